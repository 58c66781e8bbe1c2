/*
 * recommender widget: the "More like this" and "Popular" boxes under an article.
 *
 * Embed (one element per article, then the script, from the service's origin):
 *   <div data-recommender-article="ARTICLE-ID"></div>
 * Optional attributes: data-related / data-popular (list lengths, default 5),
 * data-related-title / data-popular-title (headings), data-link-template
 * ("/articles/{id}": links built from ids instead of each article's url),
 * data-service (the API's origin, when the script is served from elsewhere).
 *   <script src="https://recommender.example.org/widget.js" async></script>
 *
 * Reports the page view with navigator.sendBeacon. If the service is slow
 * (over 1.5 s) or fails, the boxes stay hidden; nothing is thrown or logged.
 * Defines one global, window.RecommenderWidget.
 */
(function () {
  "use strict";
  var TIMEOUT_MS = 1500;
  var script = document.currentScript;
  var scriptOrigin = script && script.src ? new URL(script.src, location.href).origin : location.origin;
  var visitorKey = "recommender-visitor";

  function visitorId() {
    try {
      var id = localStorage.getItem(visitorKey);
      if (!id) {
        id = Math.random().toString(36).slice(2) + Date.now().toString(36);
        localStorage.setItem(visitorKey, id);
      }
      return id;
    } catch (ignored) {
      return undefined; // storage disabled: the service dedupes by a daily-salted hash of address and browser
    }
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  // Sends one event through navigator.sendBeacon (text/plain, no preflight); never throws.
  function beacon(service, event) {
    try {
      if (navigator.sendBeacon) {
        navigator.sendBeacon(service + "/api/v1/events", new Blob([JSON.stringify(event)], { type: "text/plain" }));
      }
    } catch (ignored) {
      // a blocked beacon must not break the host page
    }
  }

  // report(event) sends a box's impression now and a click when a reader follows an item.
  function box(title, items, kind, linkTemplate, report) {
    var section = element("section", "recommender-box recommender-" + kind);
    var headingId = "recommender-" + kind + "-" + Math.random().toString(36).slice(2, 8);
    var heading = element("h2", "recommender-heading", title);
    heading.id = headingId;
    section.setAttribute("aria-labelledby", headingId);
    section.appendChild(heading);
    var list = element("ol", "recommender-list");
    items.forEach(function (item, index) {
      var entry = element("li", "recommender-item");
      // Why the item is there (similar, same_section_recent, popular, recent): kept for click reports.
      if (item.reason) entry.setAttribute("data-reason", item.reason);
      var link = element("a", "recommender-link");
      link.href = linkTemplate ? linkTemplate.replace("{id}", encodeURIComponent(item.id)) : item.url || "#";
      if (item.image_url) {
        var image = element("img", "recommender-thumbnail");
        image.src = item.image_url;
        image.alt = "";
        image.loading = "lazy";
        image.width = 96;
        link.appendChild(image);
      }
      link.appendChild(element("span", "recommender-title", item.title));
      link.addEventListener("click", function () {
        report({ type: "click", target_id: item.id, position: index + 1, reason: item.reason });
      });
      entry.appendChild(link);
      list.appendChild(entry);
    });
    section.appendChild(list);
    report({
      type: "impression",
      ids: items.map(function (item) { return item.id; }),
      reasons: items.map(function (item) { return item.reason; }),
    });
    return section;
  }

  function render(container, data, service) {
    var boxes = [];
    var links = container.getAttribute("data-link-template");
    function reporter(name) {
      return function (event) {
        event.article_id = data.article_id;
        event.box = name;
        event.index_version = data.index_version;
        beacon(service, event);
      };
    }
    if (data.more_like_this && data.more_like_this.length) {
      boxes.push(box(container.getAttribute("data-related-title") || "More like this", data.more_like_this, "related",
        links, reporter("more_like_this")));
    }
    // "Related" (editors' tags) is shown only when the article has tags that other articles share.
    if (data.related && data.related.length) {
      boxes.push(box(container.getAttribute("data-tagged-title") || "Related", data.related, "tagged", links,
        reporter("related")));
    }
    if (data.popular && data.popular.length) {
      boxes.push(box(container.getAttribute("data-popular-title") || "Popular", data.popular, "popular", links,
        reporter("popular")));
    }
    boxes.forEach(function (node) { container.appendChild(node); });
    if (boxes.length) container.hidden = false;
  }

  function reportView(service, articleId) {
    beacon(service, { type: "view", article_id: articleId, visitor_id: visitorId() });
  }

  function load(container) {
    var articleId = container.getAttribute("data-recommender-article");
    var service = container.getAttribute("data-service") || scriptOrigin;
    if (!articleId || container.getAttribute("data-recommender-loaded")) return;
    container.setAttribute("data-recommender-loaded", "1");
    container.hidden = true;
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = setTimeout(function () { if (controller) controller.abort(); }, TIMEOUT_MS);
    var query = "?related=" + (container.getAttribute("data-related") || 5) +
      "&tagged=" + (container.getAttribute("data-tagged") || 5) +
      "&popular=" + (container.getAttribute("data-popular") || 5);
    var url = service + "/api/v1/articles/" + encodeURIComponent(articleId) + "/recommendations" + query;
    var started = Date.now();
    fetch(url, { credentials: "omit", signal: controller ? controller.signal : undefined })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        clearTimeout(timer);
        if (data && Date.now() - started <= TIMEOUT_MS) render(container, data, service);
      })
      .catch(function () { clearTimeout(timer); }); // slow or failing service: the boxes stay hidden
    try {
      reportView(service, articleId);
    } catch (ignored) {
      // a blocked beacon must not break the host page
    }
  }

  function init() {
    try {
      Array.prototype.forEach.call(document.querySelectorAll("[data-recommender-article]"), load);
    } catch (ignored) {
      // an old browser without fetch or URL: no boxes, no errors
    }
  }

  window.RecommenderWidget = { init: init, version: 1 };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();

/*
 * recommender widget: the "More like this" and "Popular" boxes under an article.
 *
 * Embed (one element per article, then the script, from the service's origin):
 *   <div data-recommender-article="ARTICLE-ID"></div>
 * Optional data- attributes (the README says more): related, tagged, popular
 * (list lengths, default 5), related-title, tagged-title, popular-title,
 * link-template ("/articles/{id}"), service (the API's origin), thumbnails,
 * excerpts (show pictures, teasers), layout="tabs" (one tab per box).
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

  function flag(container, name) {
    var value = container.getAttribute(name);
    return value !== null && value !== "false";
  }

  // An item: its link (with the picture, when asked and there is one), then its teaser when asked.
  function itemNode(item, index, options, report) {
    var node = element("li", "recommender-item");
    // Why the item is there (similar, same_section_recent, popular, recent): kept for click reports.
    if (item.reason) node.setAttribute("data-reason", item.reason);
    var link = element("a", "recommender-link");
    link.href = options.links ? options.links.replace("{id}", encodeURIComponent(item.id)) : item.url || "#";
    if (options.thumbnails && item.image_url) {
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
    node.appendChild(link);
    if (options.excerpts && item.excerpt) node.appendChild(element("p", "recommender-excerpt", item.excerpt));
    return node;
  }

  // A box: its section, and impress() reporting its impression once, when first shown.
  function box(spec, options) {
    var section = element("section", "recommender-box recommender-" + spec.kind);
    section.id = options.prefix + "-" + spec.kind;
    if (!options.tabs) {
      var heading = element("h2", "recommender-heading", spec.title);
      heading.id = section.id + "-heading";
      section.setAttribute("aria-labelledby", heading.id);
      section.appendChild(heading);
    }
    var list = element("ol", "recommender-list");
    spec.items.forEach(function (item, index) { list.appendChild(itemNode(item, index, options, spec.report)); });
    section.appendChild(list);
    var seen = false;
    function impress() {
      if (seen) return;
      seen = true;
      spec.report({
        type: "impression",
        ids: spec.items.map(function (item) { return item.id; }),
        reasons: spec.items.map(function (item) { return item.reason; }),
      });
    }
    return { spec: spec, node: section, impress: impress };
  }

  // WAI-ARIA tabs, one per box, the first selected; arrows, Home, End move (selection follows focus);
  // only the selected tab is in the Tab order. A box's impression is sent when its panel is first shown.
  function tabs(built, prefix) {
    var root = element("div", "recommender-tabs");
    var tablist = element("div", "recommender-tablist");
    tablist.setAttribute("role", "tablist");
    tablist.setAttribute("aria-label", "Recommended articles");
    root.appendChild(tablist);
    var buttons = built.map(function (entry, index) {
      var tab = element("button", "recommender-tab", entry.spec.title);
      tab.type = "button";
      tab.id = prefix + "-tab-" + entry.spec.kind;
      tab.setAttribute("role", "tab");
      tab.setAttribute("aria-controls", entry.node.id);
      entry.node.setAttribute("role", "tabpanel");
      entry.node.setAttribute("aria-labelledby", tab.id);
      entry.node.tabIndex = 0;
      tab.addEventListener("click", function () { select(index, false); });
      tablist.appendChild(tab);
      root.appendChild(entry.node);
      return tab;
    });
    function select(chosen, focus) {
      buttons.forEach(function (tab, index) {
        var selected = index === chosen;
        tab.setAttribute("aria-selected", selected ? "true" : "false");
        tab.tabIndex = selected ? 0 : -1;
        built[index].node.hidden = !selected;
      });
      if (focus) buttons[chosen].focus();
      built[chosen].impress();
    }
    tablist.addEventListener("keydown", function (event) {
      var current = buttons.indexOf(document.activeElement);
      if (current < 0) return;
      var last = buttons.length - 1;
      var next = { ArrowRight: current === last ? 0 : current + 1, ArrowLeft: current === 0 ? last : current - 1,
        Home: 0, End: last }[event.key];
      if (next === undefined) return;
      event.preventDefault();
      select(next, true);
    });
    return { node: root, start: function () { select(0, false); } };
  }

  function render(container, data, service) {
    var options = {
      links: container.getAttribute("data-link-template"),
      thumbnails: flag(container, "data-thumbnails"),
      excerpts: flag(container, "data-excerpts"),
      tabs: container.getAttribute("data-layout") === "tabs",
      prefix: "recommender-" + Math.random().toString(36).slice(2, 8),
    };
    function reporter(name) {
      return function (event) {
        event.article_id = data.article_id;
        event.box = name;
        event.index_version = data.index_version;
        beacon(service, event);
      };
    }
    // "Related" (editors' tags) is shown only when the article has tags that other articles share.
    var specs = [
      { kind: "related", box: "more_like_this", title: "More like this", items: data.more_like_this },
      { kind: "tagged", box: "related", title: "Related", items: data.related },
      { kind: "popular", box: "popular", title: "Popular", items: data.popular },
    ].filter(function (spec) { return spec.items && spec.items.length; });
    var built = specs.map(function (spec) {
      spec.title = container.getAttribute("data-" + spec.kind + "-title") || spec.title;
      spec.report = reporter(spec.box);
      return box(spec, options);
    });
    if (!built.length) return;
    if (options.tabs) {
      var layout = tabs(built, options.prefix);
      container.appendChild(layout.node);
      layout.start();
    } else {
      built.forEach(function (entry) {
        container.appendChild(entry.node);
        entry.impress();
      });
    }
    container.hidden = false;
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

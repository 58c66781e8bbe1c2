"""Which User-Agents count as readers: real strings, crawlers and scripts on one side, browsers on the other."""

from __future__ import annotations

import pytest

from recommender.popularity.views import is_bot

BOTS = {
    "Googlebot": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Googlebot smartphone": "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/120.0.6099.129 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "bingbot": "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "YandexBot": "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Baiduspider": "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    "DuckDuckBot": "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
    "Applebot": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
    "AhrefsBot": "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mediapartners-Google": "Mediapartners-Google",
    "facebookexternalhit": "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Twitterbot": "Twitterbot/1.0",
    "Slackbot": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "LinkedInBot": "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "WhatsApp": "WhatsApp/2.23.20.0",
    "TelegramBot": "TelegramBot (like TwitterBot)",
    "Discordbot": "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "Pinterestbot": "Mozilla/5.0 (compatible; Pinterestbot/1.0; +http://www.pinterest.com/bot.html)",
    "SkypeUriPreview": "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5",
    "HeadlessChrome": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.6099.28 Safari/537.36",
    "PhantomJS": "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 "
    "Safari/538.1",
    "Lighthouse": "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
    "UptimeRobot": "UptimeRobot/2.0",
    "curl": "curl/8.5.0",
    "Wget": "Wget/1.21.4",
    "python-requests": "python-requests/2.31.0",
    "Python-urllib": "Python-urllib/3.11",
    "httpx": "python-httpx/0.25.2",
    "aiohttp": "Python/3.11 aiohttp/3.9.1",
    "Scrapy": "Scrapy/2.11.0 (+https://scrapy.org)",
    "axios": "axios/1.6.2",
    "node-fetch": "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "undici": "undici",
    "okhttp": "okhttp/4.12.0",
    "Go-http-client": "Go-http-client/1.1",
    "Java": "Java/17.0.9",
    "Apache-HttpClient": "Apache-HttpClient/4.5.13 (Java/11.0.19)",
    "libwww-perl": "libwww-perl/6.67",
    "Deno": "Deno/1.39.0",
    "GPTBot": "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.0; +https://openai.com/gptbot)",
    "ClaudeBot": "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; "
    "+claudebot@anthropic.com)",
    "empty": "",
    "blank": "  ",
    "dash (access logs)": "-",
}

BROWSERS = {
    "Chrome, Windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Chrome, Linux": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 "
    "Safari/537.36",
    "Firefox, Windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Firefox, Ubuntu": "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Safari, macOS": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15",
    "Edge": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
    "Safari/537.36 Edg/120.0.0.0",
    "Opera": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 "
    "Safari/537.36 OPR/105.0.0.0",
    "Samsung Internet": "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
    "iPhone Safari": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "iPad Safari": "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.6 Mobile/15E148 Safari/604.1",
    "Android Chrome": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.43 Mobile Safari/537.36",
    "CUBOT X30": "Mozilla/5.0 (Linux; Android 10; CUBOT_X30) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/91.0.4472.120 Mobile Safari/537.36",
    "CUBOT NOTE 20 PRO": "Mozilla/5.0 (Linux; Android 11; CUBOT NOTE 20 PRO Build/RP1A.200720.011) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/96.0.4664.104 Mobile Safari/537.36",
    "Facebook in-app browser": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
    "like Gecko) Mobile/21B80 [FBAN/FBIOS;FBAV/442.0.0.41.110;FBBV/541155710;FBDV/iPhone14,5;FBMD/iPhone;"
    "FBSN/iOS;FBSV/17.1;FBSS/3;FBID/phone;FBLC/en_GB;FBOP/5]",
}


@pytest.mark.parametrize("agent", list(BOTS.values()), ids=list(BOTS))
def test_crawlers_previewers_and_scripts_are_bots(agent: str) -> None:
    assert is_bot(agent)


@pytest.mark.parametrize("agent", list(BROWSERS.values()), ids=list(BROWSERS))
def test_browsers_are_readers(agent: str) -> None:
    assert not is_bot(agent)


def test_no_user_agent_is_a_bot() -> None:
    assert is_bot(None)


def test_a_long_user_agent_is_judged_like_a_short_one() -> None:
    padding = " (x" + "y" * 1000 + ")"
    assert is_bot(BOTS["Scrapy"] + padding)
    assert not is_bot(BROWSERS["CUBOT X30"] + padding)

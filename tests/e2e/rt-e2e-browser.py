#!/usr/bin/python3
# rt-e2e-browser.py - drive RT 5 in headless Chromium for rt-e2e-ui.sh.
#
# Usage: rt-e2e-browser.py BASE USER PASS OUTDIR STEP...
#   a STEP is NAME=PATH (a page under BASE): the page is loaded, a
#   screenshot saved as OUTDIR/NAME.png, and one JSON object per step is
#   printed on stdout: {"name", "url", "title", "text" (the page's visible
#   text), "badges": [{"class", "text", "title", "due", "state"}, ...],
#   "ticks": the badges' texts 2.2 s later (the countdown in promptly.js),
#   "folded": the titles of the boxes shown folded (rolled up),
#   "errors": what the browser's console logged at level SEVERE}.
#   A STEP "post:NAME=PATH?ARGS" submits the form fields ARGS (name=value
#   pairs) of the first form holding them, then reports the page shown.
# Logs in through RT's login form, as a person would.
import json
import sys
import time
import urllib.parse

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def badges(drv):
    out = []
    for el in drv.find_elements(By.CSS_SELECTOR, ".promptly-badge, .promptly-status"):
        out.append({"class": el.get_attribute("class"), "text": el.text,
                    "title": el.get_attribute("title") or "",
                    "due": el.get_attribute("data-due") or "",
                    "state": el.get_attribute("data-state") or ""})
    return out


def folded(drv):
    out = []
    for el in drv.find_elements(By.CSS_SELECTOR, ".titlebox.rolled-up"):
        t = el.find_elements(By.CSS_SELECTOR, ".titlebox-title")
        out.append(t[0].text.strip() if t else "")
    return out


def main():
    base, user, password, outdir = sys.argv[1:5]
    opts = Options()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
              "--disable-dev-shm-usage", "--window-size=1280,1500",
              "--no-first-run", "--disable-background-networking"):
        opts.add_argument(a)
    opts.binary_location = "/usr/bin/chromium"
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    drv.set_page_load_timeout(60)
    try:
        drv.get(base + "/")
        drv.find_element(By.NAME, "user").send_keys(user)
        drv.find_element(By.NAME, "pass").send_keys(password)
        drv.find_element(By.NAME, "pass").submit()
        time.sleep(0.5)
        for step in sys.argv[5:]:
            post = step.startswith("post:")
            name, path = step[5 if post else 0:].split("=", 1)
            if post:
                path, query = path.split("?", 1)
                drv.get(base + path)
                fields = urllib.parse.parse_qsl(query)
                for k, v in fields:
                    el = drv.find_element(By.NAME, k)
                    el.clear()
                    el.send_keys(v)
                el.submit()
                time.sleep(0.5)
            else:
                drv.get(base + path)
            first = badges(drv)
            time.sleep(2.2)
            later = badges(drv)
            drv.save_screenshot("%s/%s.png" % (outdir, name))
            errors = [e["message"] for e in drv.get_log("browser")
                      if e.get("level") == "SEVERE"]
            print(json.dumps({"name": name, "url": drv.current_url,
                              "title": drv.title,
                              "text": drv.find_element(By.TAG_NAME, "body").text,
                              "badges": first,
                              "ticks": [b["text"] for b in later],
                              "folded": folded(drv),
                              "errors": errors}), flush=True)
    finally:
        drv.quit()


if __name__ == "__main__":
    main()

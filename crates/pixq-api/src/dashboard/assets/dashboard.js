// pixq dashboard: keeps the page live and posts its buttons without a reload.
//
// Every second the page asks its own URL again with `X-Pixq-Live: 1` and gets its <main>
// back. Each part marked `data-live` is replaced only when its markup changed, so a video
// that plays keeps playing; when parts came or went, <main> is replaced whole. The buttons
// are forms carrying the CSRF token; here they are posted with fetch, and the answer is
// shown in the header. Nothing is loaded from anywhere but this server.
"use strict";
(function () {
  const EVERY_MS = 1000;
  const live = document.getElementById("live");
  const flash = document.getElementById("flash");
  let busy = false;

  function show(state, text) {
    if (live) {
      live.className = "live " + state;
      live.textContent = text;
    }
  }

  function say(text, failed) {
    if (flash) {
      flash.textContent = text;
      flash.className = failed ? "flash failed" : "flash";
    }
  }

  function ids(nodes) {
    return Array.from(nodes, (node) => node.id).join(" ");
  }

  function patch(html) {
    const main = document.querySelector("main");
    if (!main) return;
    const next = document.createElement("main");
    next.innerHTML = html;
    const before = main.querySelectorAll("[data-live]");
    const after = next.querySelectorAll("[data-live]");
    if (ids(before) !== ids(after)) {
      main.replaceChildren(...next.childNodes);
      return;
    }
    after.forEach((part, i) => {
      if (before[i].outerHTML !== part.outerHTML) before[i].replaceWith(part);
    });
  }

  async function refresh() {
    if (busy || document.hidden) return;
    busy = true;
    try {
      const answer = await fetch(location.pathname + location.search, {
        headers: { "X-Pixq-Live": "1" },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (answer.status === 401) {
        location.assign("/login");
        return;
      }
      if (!answer.ok) {
        show("stale", "stale (" + answer.status + ")");
        return;
      }
      patch(await answer.text());
      show("ok", "live");
    } catch (e) {
      show("stale", "offline");
    } finally {
      busy = false;
    }
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-action")) return;
    event.preventDefault();
    const button = form.querySelector("button");
    if (button) button.disabled = true;
    try {
      const answer = await fetch(form.action, {
        method: "POST",
        headers: { "X-Pixq-Live": "1" },
        body: new URLSearchParams(new FormData(form)),
        credentials: "same-origin",
      });
      say(await answer.text(), !answer.ok);
    } catch (e) {
      say("the server did not answer", true);
    } finally {
      if (button) button.disabled = false;
    }
    refresh();
  });

  window.pixqLive = { refresh };
  setInterval(refresh, EVERY_MS);
})();

// lark-events inspector: live rows over SSE, replay and compose buttons. No build step.
"use strict";

(function () {
  const page = document.body.dataset.page;

  function text(value) {
    return value === null || value === undefined ? "" : String(value);
  }

  function cell(content, className) {
    const td = document.createElement("td");
    if (className) td.className = className;
    if (content instanceof Node) td.appendChild(content);
    else td.textContent = text(content);
    return td;
  }

  function pad(n, width) {
    return String(n).padStart(width, "0");
  }

  function clock(seconds) {
    const d = new Date(seconds * 1000);
    return pad(d.getHours(), 2) + ":" + pad(d.getMinutes(), 2) + ":" + pad(d.getSeconds(), 2) +
      "." + pad(d.getMilliseconds(), 3);
  }

  // The same row as pages.row() renders on the server.
  function buildRow(x) {
    const tr = document.createElement("tr");
    tr.dataset.id = x.id;
    tr.dataset.type = x.event_type;
    tr.dataset.status = x.status === null ? "none" : String(x.status);
    const link = document.createElement("a");
    link.href = "/exchanges/" + x.id;
    link.textContent = "#" + x.id;
    tr.appendChild(cell(link));
    tr.appendChild(cell(clock(x.created)));
    tr.appendChild(cell(x.source, "source " + x.source));
    tr.appendChild(cell(x.event_type));
    const id = cell(x.event_id, "mono");
    if (x.duplicate_of !== null) {
      const dup = document.createElement("span");
      dup.className = "dup";
      dup.textContent = "duplicate of #" + x.duplicate_of;
      id.append(" ", dup);
    }
    if (x.source === "replayed" && x.attempt > 1) {
      const attempt = document.createElement("span");
      attempt.className = "attempt";
      attempt.textContent = "attempt " + x.attempt;
      id.append(" ", attempt);
    }
    tr.appendChild(id);
    tr.appendChild(cell(x.status === null ? "no answer" : x.status,
      "status " + (x.status === 200 ? "ok" : "bad")));
    tr.appendChild(cell(x.latency_ms.toFixed(1) + " ms", "num"));
    const answer = cell(x.answer, "mono answer");
    if (x.seen) {
      const chip = document.createElement("span");
      chip.className = "chip toast-" + (x.seen.toast || "card");
      chip.textContent = x.seen.text;
      const raw = document.createElement("span");
      raw.className = "raw";
      raw.textContent = text(x.answer);
      answer.textContent = "";
      answer.append(chip, document.createElement("br"), raw);
    }
    tr.appendChild(answer);
    tr.classList.add("new");
    return tr;
  }

  // Whether a live row passes the filters the page was loaded with.
  function matches(x) {
    const params = new URLSearchParams(window.location.search);
    const type = params.get("type");
    const status = params.get("status");
    const q = (params.get("q") || "").trim();
    if (type && x.event_type !== type) return false;
    if (status === "ok" && x.status !== 200) return false;
    if (status === "failed" && x.status === 200) return false;
    if (status === "none" && x.status !== null) return false;
    if (status && /^[0-9]+$/.test(status) && String(x.status) !== status) return false;
    if (q.startsWith("#")) return String(x.id) === q.slice(1);
    if (q && !(x.event_id.includes(q) || String(x.id) === q)) return false;
    return true;
  }

  function live() {
    const tbody = document.querySelector("#exchanges tbody");
    const badge = document.getElementById("live");
    const source = new EventSource("/api/stream");
    source.onopen = function () {
      badge.textContent = "live";
      badge.classList.add("on");
    };
    source.onerror = function () {
      badge.textContent = "reconnecting…";
      badge.classList.remove("on");
    };
    source.addEventListener("exchange", function (message) {
      const x = JSON.parse(message.data);
      if (!matches(x) || tbody.querySelector("tr[data-id='" + x.id + "']")) return;
      tbody.insertBefore(buildRow(x), tbody.firstChild);
    });
  }

  async function post(url, body) {
    const answer = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const data = await answer.json();
    if (!answer.ok) throw new Error(data.error || "failed: " + answer.status);
    return data;
  }

  function report(message, href) {
    const out = document.getElementById("action-result");
    out.textContent = message;
    if (href) {
      const link = document.createElement("a");
      link.href = href;
      link.textContent = " open";
      out.appendChild(link);
    }
  }

  function detail() {
    document.querySelectorAll("button[data-replay]").forEach(function (button) {
      button.addEventListener("click", async function () {
        try {
          const x = await post("/api/exchanges/" + button.dataset.replay + "/replay",
            { mode: button.dataset.mode });
          if (x.started) report("replaying as the platform would; attempts appear in the list");
          else report("sent as #" + x.id + ": " + (x.status === null ? x.error : x.status) +
            (x.duplicate_of !== null ? " (duplicate of #" + x.duplicate_of + ")" : ""),
            "/exchanges/" + x.id);
        } catch (error) {
          report(error.message);
        }
      });
    });
  }

  function compose() {
    const form = document.getElementById("compose");
    const select = document.getElementById("template");
    const area = document.getElementById("payload");
    select.addEventListener("change", async function () {
      const answer = await fetch("/api/templates/" + encodeURIComponent(select.value));
      const data = await answer.json();
      area.value = JSON.stringify(data.payload, null, 2);
    });
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      let payload;
      try {
        payload = JSON.parse(area.value);
      } catch (error) {
        report("not valid JSON: " + error.message);
        return;
      }
      try {
        const x = await post("/api/compose", { payload: payload });
        report("sent as #" + x.id + ": " + (x.status === null ? x.error : x.status),
          "/exchanges/" + x.id);
      } catch (error) {
        report(error.message);
      }
    });
  }

  if (page === "list") live();
  else if (page === "detail") detail();
  else if (page === "compose") compose();
})();

// The ONE Bus console's only script: live lists over server-sent events.
// Every value from the bus is put on the page with textContent, never as markup.
"use strict";

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text == null ? "" : String(text);
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function status(selector, text) {
  const el = document.querySelector(`[data-live-status="${selector}"]`);
  if (el) el.textContent = text;
}

function timeMs(ms) {
  return ms == null ? "" : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "+00:00");
}

// Live changes: newest first; Pause closes the stream, Resume reopens it after the last
// sequence shown, so nothing published in between is lost.
function followChanges(table) {
  const selector = "#" + table.id;
  const body = table.querySelector("tbody");
  const filter = document.querySelector(`[data-live-filter="${selector}"]`);
  const pause = document.querySelector(`[data-pause="${selector}"]`);
  let source = null;
  let lastSeq = 0;

  function open() {
    const params = new URLSearchParams();
    if (filter && filter.value) params.set("collection", filter.value);
    if (lastSeq) params.set("after", String(lastSeq));
    source = new EventSource(table.dataset.changes + "?" + params.toString());
    source.addEventListener("ready", () => status(selector, "following"));
    source.addEventListener("problem", (event) => {
      status(selector, JSON.parse(event.data));
      source.close();
    });
    source.addEventListener("change", (event) => {
      const change = JSON.parse(event.data);
      lastSeq = Math.max(lastSeq, change.seq);
      const row = document.createElement("tr");
      row.className = "fresh";
      row.dataset.seq = String(change.seq);
      cell(row, change.seq);
      cell(row, change.time);
      cell(row, change.collection);
      cell(row, change.op);
      cell(row, change.type);
      const name = cell(row, "");
      if (change.collection === "entities" && change.id) {
        const link = document.createElement("a");
        link.href = "/records/" + encodeURIComponent(change.id);
        link.textContent = change.name == null ? "" : String(change.name);
        name.appendChild(link);
      } else {
        name.textContent = change.name == null ? "" : String(change.name);
      }
      cell(row, change.id, "mono");
      body.insertBefore(row, body.firstChild);
      while (body.rows.length > 500) body.deleteRow(body.rows.length - 1);
    });
    source.onerror = () => status(selector, "reconnecting…");
  }

  function close() {
    if (source) source.close();
    source = null;
  }

  if (pause) {
    pause.addEventListener("click", () => {
      if (source) {
        close();
        pause.textContent = "Resume";
        pause.classList.add("on");
        status(selector, "paused");
      } else {
        pause.textContent = "Pause";
        pause.classList.remove("on");
        open();
      }
    });
  }
  if (filter) {
    filter.addEventListener("change", () => {
      close();
      lastSeq = 0;
      body.replaceChildren();
      open();
    });
  }
  open();
}

// A records list switched to live: a watch on the same query; each result replaces the rows.
function watchList(button) {
  const selector = button.dataset.liveToggle;
  const table = document.querySelector(selector);
  const body = table.querySelector("tbody");
  let source = null;

  function render(items) {
    body.replaceChildren();
    for (const item of items) {
      const row = document.createElement("tr");
      row.dataset.id = String(item.id);
      const name = cell(row, "");
      const link = document.createElement("a");
      link.href = "/records/" + encodeURIComponent(item.id);
      link.className = "name";
      link.textContent = item.name == null ? "" : String(item.name);
      name.appendChild(link);
      cell(row, item.type);
      cell(row, item.status);
      cell(row, timeMs(item.updatedAt));
      cell(row, item.id, "mono");
      body.appendChild(row);
    }
  }

  button.addEventListener("click", () => {
    if (source) {
      source.close();
      source = null;
      button.classList.remove("on");
      status(selector, "");
      return;
    }
    button.classList.add("on");
    status(selector, "starting the watch…");
    source = new EventSource(table.dataset.watch);
    source.addEventListener("ready", () => status(selector, "live"));
    source.addEventListener("result", (event) => {
      const result = JSON.parse(event.data);
      render(result.items);
      status(selector, `live · version ${result.version}`);
    });
    source.addEventListener("problem", (event) => {
      status(selector, JSON.parse(event.data));
      source.close();
    });
  });
}

// A page switched to live: watches on what it shows; on a change the page shows itself
// again, still live (`?live=1`), so every value is rendered by the server as before.
function livePage(button) {
  let source = null;
  const url = new URL(window.location.href);

  function start() {
    button.classList.add("on");
    status("page", "starting the watches…");
    source = new EventSource(button.dataset.livePage);
    source.addEventListener("ready", () => status("page", "live"));
    source.addEventListener("changed", () => {
      source.close();
      url.searchParams.set("live", "1");
      window.location.replace(url.toString());
    });
    source.addEventListener("problem", (event) => {
      status("page", JSON.parse(event.data));
      source.close();
    });
  }

  button.addEventListener("click", () => {
    if (source) {
      source.close();
      source = null;
      button.classList.remove("on");
      status("page", "");
      url.searchParams.delete("live");
      window.history.replaceState(null, "", url.toString());
    } else {
      start();
    }
  });
  if (url.searchParams.get("live") === "1") start();
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-live-page]").forEach(livePage);
  document.querySelectorAll("table[data-changes]").forEach(followChanges);
  document.querySelectorAll("[data-live-toggle]").forEach(watchList);
  document.querySelectorAll("[data-select-all]").forEach((box) => {
    box.addEventListener("change", () => {
      document
        .querySelectorAll(`${box.dataset.selectAll} input[name=seq]`)
        .forEach((other) => { other.checked = box.checked; });
    });
  });
});

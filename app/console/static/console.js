/* The console's behaviour, all of it progressive: pages work without it; with it, times show in the
   browser's zone, charts are drawn, and pages follow the server's live events. No inline script: the
   Content-Security-Policy forbids it. */
"use strict";

(function () {
  const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (element) {
      const moment = new Date(element.getAttribute("datetime"));
      if (isNaN(moment)) return;
      const absolute = moment.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
      if (element.hasAttribute("data-relative")) {
        const seconds = Math.round((moment - Date.now()) / 1000);
        const [value, unit] = Math.abs(seconds) < 60 ? [seconds, "second"] : Math.abs(seconds) < 3600
          ? [Math.round(seconds / 60), "minute"] : Math.abs(seconds) < 86400 ? [Math.round(seconds / 3600), "hour"]
          : [Math.round(seconds / 86400), "day"];
        element.textContent = relativeFormat.format(value, unit);
        element.title = absolute;
      } else {
        element.textContent = absolute;
        element.title = element.getAttribute("datetime");
      }
    });
  }

  /* Forms: the browser's time zone goes with every form (datetime-local fields are in it), and a
     command's button says it is waiting for the charge point. */
  function enhanceForms(root) {
    root.querySelectorAll("form").forEach(function (form) {
      if (form.dataset.enhanced) return;
      form.dataset.enhanced = "1";
      form.addEventListener("submit", function () {
        if (form.method.toLowerCase() === "post" && !form.querySelector("input[name=tzOffset]")) {
          const zone = document.createElement("input");
          zone.type = "hidden";
          zone.name = "tzOffset";
          zone.value = String(new Date().getTimezoneOffset());
          form.appendChild(zone);
        }
        const button = form.querySelector("button[type=submit]");
        if (button && form.dataset.busyLabel) {
          button.setAttribute("aria-busy", "true");
          button.dataset.label = button.textContent;
          button.textContent = form.dataset.busyLabel;
        }
      });
    });
    const answer = document.getElementById("command-answer");
    if (answer && !answer.dataset.focused) {
      answer.dataset.focused = "1";
      answer.focus();
    }
  }

  /* Charts (uPlot), from a JSON data block beside them. */
  function chartData(element) {
    const source = document.getElementById(element.dataset.source);
    return source ? JSON.parse(source.textContent) : null;
  }

  function drawCharts() {
    if (!window.uPlot) return;
    document.querySelectorAll("[data-chart]").forEach(function (element) {
      if (element.dataset.drawn) return;
      const data = chartData(element);
      if (!data) return;
      const width = Math.max(element.clientWidth, 280);
      let options, series, points;
      if (element.dataset.chart === "days") {
        const days = data.map(function (day) { return Date.parse(day.date + "T12:00:00Z") / 1000; });
        series = [days, data.map(function (day) { return day.energy_kwh; })];
        points = data.length;
        options = {
          width: width, height: 220,
          series: [{}, { label: "Energy (kWh)", stroke: "#2c7be5", fill: "rgba(44,123,229,0.35)",
                         paths: uPlot.paths.bars({ size: [0.7, 40] }), points: { show: false },
                         value: function (u, v) { return v == null ? "–" : v.toFixed(1) + " kWh"; } }],
          axes: [{}, { label: "kWh", size: 60 }],
          scales: { x: { time: true } },
        };
      } else {
        const times = Array.from(new Set(data.energy.map(function (p) { return p[0]; })
          .concat(data.power.map(function (p) { return p[0]; })))).sort(function (a, b) { return a - b; });
        const energy = new Map(data.energy), power = new Map(data.power);
        series = [times, times.map(function (t) { return energy.has(t) ? energy.get(t) : null; }),
                  times.map(function (t) { return power.has(t) ? power.get(t) : null; })];
        points = data.energy.length + data.power.length;
        options = {
          width: width, height: 280,
          series: [{}, { label: "Energy (kWh)", stroke: "#2c7be5", width: 2, scale: "kWh", spanGaps: true,
                         value: function (u, v) { return v == null ? "–" : v.toFixed(3) + " kWh"; } },
                   { label: "Power (kW)", stroke: "#e5832c", width: 2, scale: "kW", spanGaps: true,
                     value: function (u, v) { return v == null ? "–" : v.toFixed(2) + " kW"; } }],
          axes: [{}, { scale: "kWh", label: "kWh", size: 60 }, { scale: "kW", label: "kW", side: 1, size: 60,
                                                                   grid: { show: false } }],
        };
      }
      const plot = new uPlot(options, series, element);
      element.dataset.drawn = String(points);
      window.addEventListener("resize", function () {
        plot.setSize({ width: Math.max(element.clientWidth, 280), height: options.height });
      });
    });
  }

  /* Live updates: one EventSource per page; small changes are applied in place, larger ones ask the
     server for the page again (its [data-region] parts are swapped), at most once a second. */
  const body = document.body;
  const watchedChargePoint = body.dataset.chargePoint || null;
  const refreshOn = (body.dataset.refreshOn || "").split(/\s+/).filter(Boolean);
  let refreshTimer = null, refreshing = false, lastRefresh = 0;

  function scheduleRefresh() {
    if (refreshTimer) return;
    const wait = Math.max(250, 1000 - (Date.now() - lastRefresh));
    refreshTimer = setTimeout(refreshRegions, wait);
  }

  function refreshRegions() {
    refreshTimer = null;
    if (refreshing) { scheduleRefresh(); return; }
    refreshing = true;
    lastRefresh = Date.now();
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) return;
        const fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-region][id]").forEach(function (region) {
          const replacement = fresh.getElementById(region.id);
          if (replacement) {
            region.innerHTML = replacement.innerHTML;
            localTimes(region);
          }
        });
        drawCharts();
      })
      .catch(function () {})
      .finally(function () { refreshing = false; });
  }

  function setBadge(element, status) {
    element.className = element.className.replace(/status-[a-z]+/g, "") + " status-" + status.toLowerCase();
    const label = element.textContent.trim().split(" ");
    element.textContent = label.length > 1 && /^\d+$/.test(label[0]) ? label[0] + " " + status : status;
  }

  function appendLogLine(list, event) {
    const levels = (list.dataset.levels || "").split(/\s+/).filter(Boolean);
    if (levels.length && levels.indexOf(event.level) < 0) return;
    if (list.dataset.chargePoint && list.dataset.chargePoint !== event.charge_point_id) return;
    if (list.dataset.event && list.dataset.event !== event.event) return;
    const empty = list.querySelector(".empty");
    if (empty) empty.remove();
    const item = document.createElement("li");
    item.className = "level-" + event.level.toLowerCase() + " fresh";
    const time = document.createElement("time");
    time.setAttribute("datetime", event.at);
    item.appendChild(time);
    item.appendChild(document.createTextNode(" "));
    if (!list.dataset.chargePoint && event.charge_point_id) {
      const link = document.createElement("a");
      link.href = "/charge-points/" + encodeURIComponent(event.charge_point_id);
      link.textContent = event.charge_point_id;
      item.appendChild(link);
      item.appendChild(document.createTextNode(" "));
    }
    const code = document.createElement("code");
    code.textContent = event.event;
    item.appendChild(code);
    item.appendChild(document.createTextNode(" " + event.message));
    list.insertBefore(item, list.firstChild);
    localTimes(item);
    const keep = parseInt(list.dataset.keep || "100", 10);
    while (list.children.length > keep) list.removeChild(list.lastChild);
  }

  function onEvent(event) {
    const concerned = !watchedChargePoint || event.charge_point_id === watchedChargePoint;
    if (event.kind === "status") {
      document.querySelectorAll("[data-connector]").forEach(function (badge) {
        if (badge.dataset.connector === event.charge_point_id + "/" + event.connector_id) setBadge(badge, event.status);
      });
    } else if (event.kind === "connection") {
      document.querySelectorAll("[data-connection]").forEach(function (badge) {
        if (badge.dataset.connection !== event.charge_point_id) return;
        badge.textContent = event.connected ? "connected" : "offline";
        badge.className = "badge " + (event.connected ? "online" : "offline");
      });
    } else if (event.kind === "log") {
      document.querySelectorAll("[data-log-tail]").forEach(function (list) { appendLogLine(list, event); });
    }
    if (concerned && refreshOn.indexOf(event.kind) >= 0) scheduleRefresh();
  }

  function listen() {
    if (!("liveUrl" in body.dataset) && !body.hasAttribute("data-live")) return;
    const state = document.getElementById("live-state");
    const source = new EventSource("/live");
    source.onopen = function () {
      if (state) { state.className = "live-state on"; state.title = "Live updates: on"; }
      document.documentElement.dataset.live = "on";
      // What happened between the page's rendering (or the stream's loss) and now came as no event.
      if (refreshOn.length) scheduleRefresh();
    };
    source.onerror = function () {
      if (state) { state.className = "live-state off"; state.title = "Live updates: reconnecting"; }
      document.documentElement.dataset.live = "off";
    };
    source.onmessage = function (message) {
      try { onEvent(JSON.parse(message.data)); } catch (error) { /* a malformed event is skipped */ }
    };
  }

  /* A page shown as the answer to a form (a command's reply) has the address of that form; give it the
     page's own, so that reloading it or following it live asks for the page, never posts again. */
  function canonicalAddress() {
    const own = body.dataset.pageUrl;
    if (own && window.location.pathname !== own) window.history.replaceState(null, "", own);
  }

  document.addEventListener("DOMContentLoaded", function () {
    canonicalAddress();
    localTimes(document);
    enhanceForms(document);
    drawCharts();
    listen();
  });
  window.addEventListener("load", drawCharts);
})();

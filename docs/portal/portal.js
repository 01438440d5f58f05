// The developer portal: renders the OpenAPI document embedded in the page with the vendored
// renderer, fills in this deployment's base URL, and runs the request-signature calculator.
// Everything happens in this page: it loads nothing from another origin, and the calculator
// sends nothing anywhere (the api_token_key never leaves the browser).
(function () {
  "use strict";

  // The deployment that served this page: its URL without the trailing /docs.
  var base = location.origin + location.pathname.replace(/\/docs\/?$/, "");

  var spec = JSON.parse(document.getElementById("portal-spec").textContent);
  spec.servers = [{ url: base, description: "this deployment (the one that served this page)" }]
    .concat((spec.servers || []).filter(function (s) { return s.url !== base; }));

  function fillBaseUrl(root) {
    var nodes = root.querySelectorAll(".portal-base-url");
    for (var i = 0; i < nodes.length; i++) nodes[i].textContent = base;
  }

  // Scrollable areas the renderer draws (code samples, wide tables) get a tab stop and a name,
  // so a keyboard user can scroll them (axe: scrollable-region-focusable).
  function focusableScrollers(root) {
    var candidates = root.querySelectorAll("pre, table, .portal-figure, [class*='sc-'] > div");
    for (var i = 0; i < candidates.length; i++) {
      var el = candidates[i];
      if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1) {
        var style = getComputedStyle(el);
        if (/(auto|scroll)/.test(style.overflow + style.overflowX + style.overflowY) && !el.hasAttribute("tabindex")) {
          el.setAttribute("tabindex", "0");
          if (!el.hasAttribute("aria-label") && el.tagName !== "TABLE") el.setAttribute("aria-label", "scrollable content");
        }
      }
    }
  }

  // ---- the signature calculator ---------------------------------------------------------
  // signature = lowercase_hex(MD5(api_token_key + tracking_number + amount)), MD5 over the
  // UTF-8 bytes (blueimp-md5 encodes strings as UTF-8).
  function calculate() {
    var key = document.getElementById("sig-key");
    if (!key) return;
    var tracking = document.getElementById("sig-tracking").value;
    var amount = document.getElementById("sig-amount").value.trim();
    var input = document.getElementById("sig-input");
    var result = document.getElementById("sig-result");
    var problem = document.getElementById("sig-problem");
    problem.textContent = "";
    if (amount !== "" && !/^(0|[1-9][0-9]*)$/.test(amount)) {
      problem.textContent = "The amount is an integer written without sign, separators, decimals or leading zeros (15000).";
      result.textContent = "";
      input.textContent = "";
      return;
    }
    var text = key.value + tracking + amount;
    input.textContent = text;
    result.textContent = key.value || tracking || amount ? window.md5(text) : "";
  }

  document.addEventListener("input", function (e) {
    if (e.target && e.target.closest && e.target.closest("#signature-calculator")) calculate();
  });
  document.addEventListener("submit", function (e) {
    if (e.target && e.target.id === "signature-calculator") {
      e.preventDefault();
      calculate();
    }
  });

  // ---- the reference --------------------------------------------------------------------
  var options = {
    hideDownloadButton: true,
    requiredPropsFirst: true,
    jsonSampleExpandLevel: 3,
    expandSingleSchemaField: true,
    menuToggle: true,
    theme: {
      typography: {
        fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif',
        headings: { fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif' },
        code: { fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace', color: "#a4161a" },
        links: { color: "#1f4e79" },
      },
      colors: {
        primary: { main: "#1f4e79" },
        text: { primary: "#1f2d3d", secondary: "#3d4b5a" },
        http: { get: "#1b6e3a", post: "#1f4e79", put: "#7a4a00", patch: "#6b3fa0", delete: "#a4161a" },
      },
      sidebar: { textColor: "#1f2d3d", activeTextColor: "#1f4e79" },
      rightPanel: { backgroundColor: "#263238", textColor: "#ffffff" },
    },
  };

  var container = document.getElementById("redoc");
  window.Redoc.init(spec, options, container, function () {
    fillBaseUrl(document);
    focusableScrollers(document);
    calculate();
    document.documentElement.setAttribute("data-portal-ready", "true");
  });
})();

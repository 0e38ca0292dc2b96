/* spine-cds demo: a pretend EHR that sends real CDS Hooks 2.0 calls and renders the cards.
 *
 * Safety: every string that comes from a response is put in the page with
 * textContent, except card.detail, which goes through renderMarkdown(): that
 * escapes all HTML first and then adds only a fixed set of tags (strong, em,
 * code, ul/ol/li, p, h4, a with an http(s) href). No eval, no inline handlers;
 * the page's Content-Security-Policy allows scripts from this origin only.
 */
"use strict";

(function () {
  // ------------------------------------------------------------------ UI text
  const UI = {
    en: {
      "title": "spine-cds demo",
      "subtitle": "A pretend EHR that calls the CDS Hooks services of this server with sample patients. Fictional data only.",
      "patient": "Patient",
      "hook": "Hook",
      "language": "Card language",
      "prefetch": "Send prefetch (otherwise the service fetches from the demo FHIR server)",
      "run": "Run hook",
      "cards": "Cards",
      "raw": "Raw request and response",
      "show-raw": "Show the JSON exchanged with the services",
      "footer": "Demo mode: authentication is off. Not for clinical use.",
      "indicator.info": "Info",
      "indicator.warning": "Warning",
      "indicator.critical": "Critical",
      "source": "Source",
      "links": "Links",
      "suggestions": "Suggestions",
      "recommended": "recommended",
      "accept": "Accept",
      "override": "Override",
      "override-reason": "Reason for overriding",
      "comment": "Comment (optional)",
      "loading": "Calling {n} service(s) for the {hook} hook…",
      "done": "{n} card(s) from {s} service(s): {c} critical, {w} warning, {i} info.",
      "no-cards": "No cards: the services had no advice for this patient and hook.",
      "no-services": "No service of this server answers the {hook} hook.",
      "service-error": "{service}: HTTP {status}. {diag}",
      "network-error": "{service}: no answer ({error}).",
      "draft-order": "Draft order: {text}",
      "no-draft": "This sample has no draft order: only patient-view is available.",
      "feedback-sending": "Sending feedback…",
      "feedback-ok": "Feedback sent ({outcome}, HTTP {status}); the service has stored {rows} feedback row(s) for this card.",
      "feedback-failed": "Feedback was not accepted: HTTP {status}. {diag}",
      "actions": "Actions",
      "card-meta": "Service {service}, card {uuid}",
      "request": "Request to {url}",
      "response": "Response: HTTP {status}",
      "loading-samples": "Loading the sample patients…",
      "load-failed": "The sample patients could not be loaded (HTTP {status}).",
      "ready": "Choose a patient and a hook, then run the hook.",
      "patient-id": "Patient/{id} (sample {sample})",
      "outcome.accepted": "accepted",
      "outcome.overridden": "overridden",
      "choose-reason": "Choose a reason…",
      "reason-needed": "Choose a reason for overriding first.",
      "sex.male": "male", "sex.female": "female", "sex.other": "other", "sex.unknown": "sex unknown",
      "age": "{n} years",
      "problems": "Problems"
    },
    nl: {
      "title": "spine-cds demo",
      "subtitle": "Een nagebootst EPD dat de CDS Hooks-services van deze server aanroept met voorbeeldpatiënten. Alleen fictieve gegevens.",
      "patient": "Patiënt",
      "hook": "Hook",
      "language": "Taal van de kaarten",
      "prefetch": "Prefetch meesturen (anders haalt de service de gegevens op bij de demo-FHIR-server)",
      "run": "Hook uitvoeren",
      "cards": "Kaarten",
      "raw": "Ruwe aanvraag en antwoord",
      "show-raw": "Toon de JSON die met de services is uitgewisseld",
      "footer": "Demomodus: authenticatie staat uit. Niet voor klinisch gebruik.",
      "indicator.info": "Informatie",
      "indicator.warning": "Waarschuwing",
      "indicator.critical": "Kritiek",
      "source": "Bron",
      "links": "Links",
      "suggestions": "Voorstellen",
      "recommended": "aanbevolen",
      "accept": "Accepteren",
      "override": "Afwijken",
      "override-reason": "Reden om af te wijken",
      "comment": "Toelichting (optioneel)",
      "loading": "{n} service(s) aanroepen voor de hook {hook}…",
      "done": "{n} kaart(en) van {s} service(s): {c} kritiek, {w} waarschuwing, {i} informatie.",
      "no-cards": "Geen kaarten: de services hebben geen advies voor deze patiënt en hook.",
      "no-services": "Geen enkele service van deze server beantwoordt de hook {hook}.",
      "service-error": "{service}: HTTP {status}. {diag}",
      "network-error": "{service}: geen antwoord ({error}).",
      "draft-order": "Conceptorder: {text}",
      "no-draft": "Deze voorbeeldpatiënt heeft geen conceptorder: alleen patient-view is beschikbaar.",
      "feedback-sending": "Feedback versturen…",
      "feedback-ok": "Feedback verstuurd ({outcome}, HTTP {status}); de service heeft {rows} feedbackregel(s) voor deze kaart opgeslagen.",
      "feedback-failed": "Feedback niet geaccepteerd: HTTP {status}. {diag}",
      "actions": "Acties",
      "card-meta": "Service {service}, kaart {uuid}",
      "request": "Aanvraag aan {url}",
      "response": "Antwoord: HTTP {status}",
      "loading-samples": "Voorbeeldpatiënten laden…",
      "load-failed": "De voorbeeldpatiënten konden niet worden geladen (HTTP {status}).",
      "ready": "Kies een patiënt en een hook en voer de hook uit.",
      "patient-id": "Patient/{id} (voorbeeld {sample})",
      "outcome.accepted": "geaccepteerd",
      "outcome.overridden": "afgeweken",
      "choose-reason": "Kies een reden…",
      "reason-needed": "Kies eerst een reden om af te wijken.",
      "sex.male": "man", "sex.female": "vrouw", "sex.other": "anders", "sex.unknown": "geslacht onbekend",
      "age": "{n} jaar",
      "problems": "Problemen"
    }
  };

  const state = { samples: [], services: [], lang: "en", runs: 0 };

  function t(key, params) {
    const table = UI[state.lang] || UI.en;
    let text = Object.prototype.hasOwnProperty.call(table, key) ? table[key] : (UI.en[key] || key);
    if (params) {
      text = text.replace(/\{(\w+)\}/g, function (m, name) {
        return Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : m;
      });
    }
    return text;
  }

  // ------------------------------------------------------------------ Markdown (safe subset)
  const ENTITY = /^&(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});/;

  /** Escape HTML special characters; keep character references (&lt; &#8804;) as Markdown does. */
  function escapeHtml(text) {
    let out = "";
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (ch === "&") {
        const m = ENTITY.exec(text.slice(i, i + 40));
        out += m ? "&" : "&amp;";
      } else if (ch === "<") {
        out += "&lt;";
      } else if (ch === ">") {
        out += "&gt;";
      } else if (ch === "\"") {
        out += "&quot;";
      } else if (ch === "'") {
        out += "&#39;";
      } else {
        out += ch;
      }
    }
    return out;
  }

  /** Inline Markdown on already-escaped text: `code`, [text](http(s) url), **bold**, _italic_ / *italic*. */
  function renderInline(escaped) {
    const slots = [];
    function hold(html) {
      slots.push(html);
      return "\u0000" + (slots.length - 1) + "\u0000";
    }
    let s = escaped.replace(/`([^`]+)`/g, function (m, code) {
      return hold("<code>" + code + "</code>");
    });
    s = s.replace(/\[([^\]]+)\]\(\s*((?:[^\s()]|\([^\s()]*\))+)\s*\)/g, function (m, text, url) {
      if (!/^https?:\/\/[^\s]+$/i.test(url)) {
        return text; // only http(s) links; anything else (javascript:, data:, relative) stays text
      }
      return hold("<a href=\"" + url + "\" target=\"_blank\" rel=\"noopener noreferrer\">" + emphasis(text) +
                  "</a>");
    });
    s = emphasis(s);
    return s.replace(/\u0000(\d+)\u0000/g, function (m, n) { return slots[Number(n)]; });
  }

  function emphasis(s) {
    s = s.replace(/\*\*(?=\S)([\s\S]*?\S)\*\*/g, "<strong>$1</strong>");
    s = s.replace(/__(?=\S)([\s\S]*?\S)__/g, "<strong>$1</strong>");
    s = s.replace(/(^|[^\w*])\*(?=\S)([^*]*?\S)\*(?![\w*])/g, "$1<em>$2</em>");
    s = s.replace(/(^|[^\w])_(?=\S)([^_]*?\S)_(?!\w)/g, "$1<em>$2</em>");
    return s;
  }

  /** Markdown -> HTML string built only from escaped text and a fixed set of tags. */
  function renderMarkdown(source) {
    const text = escapeHtml(String(source == null ? "" : source).replace(/\u0000/g, "").replace(/\r\n?/g, "\n"));
    const lines = text.split("\n");
    const html = [];
    let para = [];
    let list = null; // {tag, items: [string]}

    function flushPara() {
      if (para.length) {
        html.push("<p>" + renderInline(para.join(" ")) + "</p>");
        para = [];
      }
    }
    function flushList() {
      if (list) {
        html.push("<" + list.tag + ">" + list.items.map(function (item) {
          return "<li>" + renderInline(item) + "</li>";
        }).join("") + "</" + list.tag + ">");
        list = null;
      }
    }

    for (const line of lines) {
      let m;
      if (!line.trim()) {
        flushPara();
        flushList();
      } else if ((m = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line))) {
        flushPara();
        flushList();
        html.push("<h4>" + renderInline(m[2]) + "</h4>");
      } else if ((m = /^\s*[-*+]\s+(.*)$/.exec(line)) || (m = /^\s*(\d{1,9})[.)]\s+(.*)$/.exec(line))) {
        const ordered = m.length === 3;
        const tag = ordered ? "ol" : "ul";
        flushPara();
        if (list && list.tag !== tag) {
          flushList();
        }
        if (!list) {
          list = { tag: tag, items: [] };
        }
        list.items.push(ordered ? m[2] : m[1]);
      } else if (list && /^\s+\S/.test(line)) {
        list.items[list.items.length - 1] += " " + line.trim();
      } else {
        flushList();
        para.push(line.trim());
      }
    }
    flushPara();
    flushList();
    return html.join("\n");
  }

  // ------------------------------------------------------------------ helpers
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [name, value] of Object.entries(attrs)) {
        if (value === undefined || value === null || value === false) continue;
        if (name === "text") node.textContent = String(value);
        else if (name === "className") node.className = value;
        else node.setAttribute(name, value === true ? "" : String(value));
      }
    }
    for (const child of children || []) {
      if (child) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function safeUrl(url) {
    return typeof url === "string" && /^https?:\/\/\S+$/i.test(url) ? url : null;
  }

  function externalLink(label, url) {
    const href = safeUrl(url);
    if (!href) return el("span", { text: label });
    return el("a", { href: href, target: "_blank", rel: "noopener noreferrer", text: label });
  }

  function uuid4() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    const b = window.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    const h = Array.from(b, function (x) { return x.toString(16).padStart(2, "0"); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function diagnostics(body) {
    if (body && body.resourceType === "OperationOutcome" && Array.isArray(body.issue)) {
      return body.issue.map(function (i) { return i && i.diagnostics ? String(i.diagnostics) : ""; })
        .filter(Boolean).join(" ");
    }
    return "";
  }

  async function fetchJson(url, options) {
    const resp = await fetch(url, options);
    let body = null;
    try {
      body = await resp.json();
    } catch (e) {
      body = null;
    }
    return { status: resp.status, ok: resp.ok, body: body };
  }

  function orderText(res) {
    if (!res || typeof res !== "object") return "?";
    const cc = res.code || res.medicationCodeableConcept || {};
    const coding = Array.isArray(cc.coding) && cc.coding.length ? cc.coding[0] : {};
    const name = cc.text || coding.display || coding.code || "";
    return res.resourceType + (name ? ": " + name : "") + (res.id ? " (" + res.id + ")" : "");
  }

  // ------------------------------------------------------------------ page state
  const $ = function (id) { return document.getElementById(id); };

  function currentSample() {
    const id = $("patient").value;
    return state.samples.find(function (s) { return s.id === id; }) || null;
  }

  function applyLanguage() {
    state.lang = $("lang").value === "nl" ? "nl" : "en";
    document.documentElement.lang = state.lang;
    for (const node of document.querySelectorAll("[data-t]")) {
      node.textContent = t(node.getAttribute("data-t"));
    }
    fillPatients();
    describeSample();
  }

  function fillPatients() {
    const select = $("patient");
    const keep = select.value;
    select.textContent = "";
    for (const s of state.samples) {
      const b = s.banner || {};
      const first = Array.isArray(b.problems) && b.problems.length ? " — " + b.problems[0] : "";
      select.appendChild(el("option", { value: s.id, text: (b.name || s.patientId) + first }));
    }
    if (keep) select.value = keep;
  }

  function describeSample(pickHook) {
    const sample = currentSample();
    const hookSelect = $("hook");
    if (!sample) return;
    $("patient-description").textContent = t("patient-id", { id: sample.patientId, sample: sample.id });
    renderBanner(sample);
    const hasDraft = Array.isArray(sample.draftOrders) && sample.draftOrders.length > 0;
    for (const option of hookSelect.options) {
      option.disabled = option.value !== "patient-view" && !hasDraft;
    }
    if (pickHook) {
      const preferred = (sample.hooks || []).find(function (h) {
        return h === "patient-view" || hasDraft;
      });
      hookSelect.value = preferred || "patient-view";
    }
    if (hookSelect.selectedOptions.length && hookSelect.selectedOptions[0].disabled) {
      hookSelect.value = "patient-view";
    }
    const draft = $("draft-order");
    if (hasDraft) {
      const texts = Array.isArray(sample.draftOrderTexts) ? sample.draftOrderTexts : [];
      draft.textContent = sample.draftOrders.map(function (r, i) {
        const named = texts[i] && texts[i][state.lang];
        return t("draft-order", { text: named ? named + (r.id ? " (" + r.id + ")" : "") : orderText(r) });
      }).join("; ");
    } else {
      draft.textContent = t("no-draft");
    }
  }

  function renderBanner(sample) {
    const box = $("banner");
    const b = sample.banner || {};
    box.textContent = "";
    const facts = [];
    if (typeof b.age === "number") facts.push(t("age", { n: b.age }));
    if (b.sex) facts.push(t("sex." + b.sex));
    if (b.birthDate) facts.push(String(b.birthDate));
    box.appendChild(el("div", { className: "banner-name", text: b.name || sample.patientId }));
    box.appendChild(el("div", { className: "banner-facts", text: facts.join(" · ") }));
    const problems = Array.isArray(b.problems) ? b.problems : [];
    box.appendChild(el("div", { className: "banner-problems" }, [
      el("span", { className: "banner-label", text: t("problems") + ": " }),
      el("span", { text: problems.join(", ") || "—" })
    ]));
  }

  // ------------------------------------------------------------------ the CDS Hooks call
  function buildRequest(sample, hook) {
    const context = { userId: "Practitioner/demo-clinician", patientId: sample.patientId };
    if (hook !== "patient-view") {
      const orders = sample.draftOrders || [];
      context.draftOrders = {
        resourceType: "Bundle", type: "collection",
        entry: orders.map(function (r) { return { resource: r }; })
      };
      if (hook === "order-select") {
        context.selections = orders.filter(function (r) { return r && r.id; })
          .map(function (r) { return r.resourceType + "/" + r.id; });
      }
    }
    return {
      hook: hook,
      hookInstance: uuid4(),
      fhirServer: window.location.origin + "/demo/fhir",
      context: context
    };
  }

  function rawBlock(title, value) {
    return el("div", { className: "raw-item" }, [
      el("h3", { text: title }),
      el("pre", { tabindex: "0", text: JSON.stringify(value, null, 2) })
    ]);
  }

  async function run(event) {
    if (event) event.preventDefault();
    const sample = currentSample();
    if (!sample) return;
    const hook = $("hook").value;
    const lang = state.lang;
    const usePrefetch = $("use-prefetch").checked;
    const services = state.services.filter(function (s) { return s.hook === hook; });
    const cardsBox = $("cards");
    const raw = $("raw");
    const status = $("status");
    const runId = ++state.runs;
    cardsBox.textContent = "";
    raw.textContent = "";
    cardsBox.setAttribute("data-state", "loading");
    cardsBox.setAttribute("aria-busy", "true");
    $("run").disabled = true;
    status.textContent = services.length ? t("loading", { n: services.length, hook: hook })
      : t("no-services", { hook: hook });

    const collected = [];
    const errors = [];
    try {
      // One call after the other: in the FHIR-fallback mode each call makes this same
      // server fetch from its own demo FHIR endpoint, so parallel calls only compete.
      for (const service of services) {
        const body = buildRequest(sample, hook);
        if (usePrefetch) {
          const pre = await fetchJson("api/prefetch/" + encodeURIComponent(sample.id) + "?service=" +
                                      encodeURIComponent(service.id));
          if (pre.ok && pre.body && pre.body.prefetch) body.prefetch = pre.body.prefetch;
        }
        const url = "/cds-services/" + encodeURIComponent(service.id);
        raw.appendChild(rawBlock(t("request", { url: url }), body));
        let answer;
        try {
          answer = await fetchJson(url, {
            method: "POST",
            headers: { "Content-Type": "application/json", "Accept": "application/json",
                       "Accept-Language": lang },
            body: JSON.stringify(body)
          });
        } catch (e) {
          errors.push(t("network-error", { service: service.id, error: String(e && e.message || e) }));
          continue;
        }
        raw.appendChild(rawBlock(t("response", { status: answer.status }), answer.body));
        if (!answer.ok || !answer.body || !Array.isArray(answer.body.cards)) {
          errors.push(t("service-error", { service: service.id, status: answer.status,
                                           diag: diagnostics(answer.body) }));
          continue;
        }
        for (const card of answer.body.cards) {
          if (card && typeof card === "object") collected.push({ card: card, service: service.id });
        }
      }
    } finally {
      if (runId === state.runs) {
        renderResults(collected, errors, services.length);
        cardsBox.setAttribute("data-state", "done");
        cardsBox.setAttribute("data-run", String(runId));
        cardsBox.removeAttribute("aria-busy");
        $("run").disabled = false;
      }
    }
  }

  const ORDER = { critical: 0, warning: 1, info: 2 };

  function renderResults(collected, errors, serviceCount) {
    const box = $("cards");
    for (const message of errors) {
      box.appendChild(el("p", { className: "call-error", role: "alert", text: message }));
    }
    collected.sort(function (a, b) {
      return (ORDER[a.card.indicator] ?? 3) - (ORDER[b.card.indicator] ?? 3);
    });
    collected.forEach(function (item, n) { box.appendChild(renderCard(item.card, item.service, n)); });
    const count = function (ind) { return collected.filter(function (x) { return x.card.indicator === ind; }).length; };
    let text = collected.length ? t("done", { n: collected.length, s: serviceCount, c: count("critical"),
                                              w: count("warning"), i: count("info") })
      : t("no-cards");
    if (errors.length) text += " " + errors.join(" ");
    $("status").textContent = text;
  }

  // ------------------------------------------------------------------ one card
  function renderCard(card, serviceId, n) {
    const indicator = ["info", "warning", "critical"].indexOf(card.indicator) >= 0 ? card.indicator : "info";
    const idBase = "card-" + n;
    const source = card.source && typeof card.source === "object" ? card.source : {};
    const topic = source.topic && typeof source.topic === "object" ? source.topic : {};
    const article = el("article", {
      className: "card card-" + indicator, "aria-labelledby": idBase + "-summary",
      "data-topic": typeof topic.code === "string" ? topic.code : "",
      "data-indicator": indicator, "data-uuid": typeof card.uuid === "string" ? card.uuid : "",
      "data-service": serviceId
    });
    const header = el("header", { className: "card-head" }, [
      el("span", { className: "badge badge-" + indicator, text: t("indicator." + indicator) }),
      el("h3", { id: idBase + "-summary", className: "summary", text: String(card.summary || "") })
    ]);
    article.appendChild(header);

    if (typeof card.detail === "string" && card.detail) {
      const detail = el("div", { className: "detail" });
      detail.innerHTML = renderMarkdown(card.detail); // escaped first; only whitelisted tags are added
      article.appendChild(detail);
    }

    const sourceLine = el("p", { className: "source" }, [
      el("span", { className: "label", text: t("source") + ": " }),
      externalLink(String(source.label || ""), source.url)
    ]);
    if (topic.display || topic.code) {
      sourceLine.appendChild(el("span", { className: "topic",
                                          text: " · " + (topic.display || topic.code) +
                                                (topic.code ? " (" + topic.code + ")" : "") }));
    }
    article.appendChild(sourceLine);

    const links = Array.isArray(card.links) ? card.links.filter(function (l) { return l && l.url; }) : [];
    if (links.length) {
      const ul = el("ul", { className: "links", "aria-label": t("links") });
      for (const link of links) ul.appendChild(el("li", null, [externalLink(String(link.label || link.url), link.url)]));
      article.appendChild(ul);
    }

    const result = el("p", { className: "feedback-result", role: "status", "aria-live": "polite" });

    const suggestions = Array.isArray(card.suggestions) ? card.suggestions.filter(function (s) { return s; }) : [];
    if (suggestions.length) {
      const box = el("div", { className: "suggestions", role: "group", "aria-label": t("suggestions") });
      for (const s of suggestions) {
        const button = el("button", { type: "button", className: "suggestion" + (s.isRecommended ? " recommended" : ""),
                                      "data-suggestion": typeof s.uuid === "string" ? s.uuid : "" },
                          [t("accept") + ": " + String(s.label || "")]);
        if (s.isRecommended) button.appendChild(el("span", { className: "rec", text: " (" + t("recommended") + ")" }));
        button.addEventListener("click", function () {
          for (const b of box.querySelectorAll("button")) b.disabled = true;
          sendFeedback(serviceId, card, {
            outcome: "accepted", acceptedSuggestions: [{ id: String(s.uuid || "") }]
          }, result);
        });
        const actions = Array.isArray(s.actions) ? s.actions : [];
        const item = el("div", { className: "suggestion-item" }, [button]);
        if (actions.length) {
          const ul = el("ul", { className: "actions", "aria-label": t("actions") });
          for (const a of actions) {
            if (!a || typeof a !== "object") continue;
            const res = a.resource && typeof a.resource === "object" ? a.resource : null;
            ul.appendChild(el("li", { text: String(a.type || "") + (res ? " " + orderText(res) : "") +
                                              (a.description ? " — " + a.description : "") }));
          }
          item.appendChild(ul);
        }
        box.appendChild(item);
      }
      article.appendChild(box);
    }

    const reasons = Array.isArray(card.overrideReasons) ? card.overrideReasons.filter(function (r) { return r; }) : [];
    if (reasons.length) {
      const selectId = idBase + "-reason";
      const commentId = idBase + "-comment";
      const select = el("select", { id: selectId, className: "override-reason" });
      // starts empty: no click may record a reason nobody picked
      select.appendChild(el("option", { value: "", text: t("choose-reason") }));
      reasons.forEach(function (r, i) {
        select.appendChild(el("option", { value: String(i), text: String(r.display || r.code || "?") }));
      });
      const comment = el("input", { id: commentId, type: "text", maxlength: "500", className: "override-comment" });
      // disabled until a reason is chosen
      const button = el("button", { type: "button", className: "override-button", text: t("override"),
                                    disabled: true, title: t("reason-needed") });
      select.addEventListener("change", function () {
        button.disabled = select.value === "";
        button.title = button.disabled ? t("reason-needed") : "";
      });
      button.addEventListener("click", function () {
        if (select.value === "") return;
        button.disabled = true;
        const reason = reasons[Number(select.value)];
        const overrideReason = { reason: { system: reason.system, code: reason.code, display: reason.display } };
        if (comment.value.trim()) overrideReason.userComment = comment.value.trim();
        sendFeedback(serviceId, card, { outcome: "overridden", overrideReason: overrideReason }, result);
      });
      article.appendChild(el("div", { className: "override" }, [
        el("label", { for: selectId, text: t("override-reason") }), select,
        el("label", { for: commentId, text: t("comment") }), comment, button
      ]));
    }
    article.appendChild(result);
    article.appendChild(el("p", { className: "meta", text: t("card-meta", { service: serviceId, uuid: card.uuid || "?" }) }));
    return article;
  }

  async function sendFeedback(serviceId, card, item, resultNode) {
    resultNode.textContent = t("feedback-sending");
    resultNode.removeAttribute("data-feedback");
    const body = { feedback: [Object.assign({ card: String(card.uuid || "") }, item,
                                            { outcomeTimestamp: new Date().toISOString() })] };
    const url = "/cds-services/" + encodeURIComponent(serviceId) + "/feedback";
    const raw = $("raw");
    raw.appendChild(rawBlock(t("request", { url: url }), body));
    let answer;
    try {
      answer = await fetchJson(url, { method: "POST", headers: { "Content-Type": "application/json" },
                                      body: JSON.stringify(body) });
    } catch (e) {
      resultNode.textContent = t("network-error", { service: serviceId, error: String(e && e.message || e) });
      resultNode.setAttribute("data-feedback", "failed");
      return;
    }
    raw.appendChild(rawBlock(t("response", { status: answer.status }), answer.body));
    if (!answer.ok) {
      resultNode.textContent = t("feedback-failed", { status: answer.status, diag: diagnostics(answer.body) });
      resultNode.setAttribute("data-feedback", "failed");
      return;
    }
    const stored = await fetchJson("api/feedback/" + encodeURIComponent(String(card.uuid || "")));
    const rows = stored.ok && stored.body && Array.isArray(stored.body.feedback) ? stored.body.feedback.length : 0;
    resultNode.textContent = t("feedback-ok", { outcome: t("outcome." + item.outcome), status: answer.status,
                                                rows: rows });
    resultNode.setAttribute("data-feedback", item.outcome);
  }

  // ------------------------------------------------------------------ start
  async function start() {
    const status = $("status");
    applyLanguage();
    status.textContent = t("loading-samples");
    const [samples, discovery] = await Promise.all([fetchJson("api/samples"), fetchJson("/cds-services")]);
    if (!samples.ok || !discovery.ok) {
      status.textContent = t("load-failed", { status: samples.ok ? discovery.status : samples.status });
      return;
    }
    state.samples = Array.isArray(samples.body.samples) ? samples.body.samples : [];
    state.services = Array.isArray(discovery.body.services) ? discovery.body.services : [];
    fillPatients();
    describeSample(true);
    $("patient").addEventListener("change", function () { describeSample(true); });
    $("hook").addEventListener("change", function () { describeSample(false); });
    $("lang").addEventListener("change", applyLanguage);
    $("launch").addEventListener("submit", run);
    status.textContent = t("ready");
    document.body.setAttribute("data-ready", "true");
  }

  window.spineDemo = { renderMarkdown: renderMarkdown, escapeHtml: escapeHtml, state: state };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

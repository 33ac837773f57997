/* Webhooks settings: list, add (the secret is shown once), delete, recent deliveries, re-send. */
"use strict";

(() => {
  const { api, h, flash, fail, fmt } = DP;
  const body = document.querySelector("#webhooks tbody");
  const secretBox = document.getElementById("secret");
  const deliveriesBox = document.getElementById("deliveries");

  async function load() {
    const page = await api("webhooks");
    body.replaceChildren(...page.items.map((hook) => h("tr", {},
      h("td", {}, hook.url), h("td", {}, hook.events.join(", ")),
      h("td", {}, hook.active ? "yes" : "no"),
      h("td", {},
        h("button", { type: "button", onclick: () => showDeliveries(hook).catch(fail) },
          "Deliveries"),
        h("button", { type: "button", onclick: () => remove(hook).catch(fail) }, "Delete")))));
    if (!page.items.length) body.replaceChildren(h("tr", {}, h("td", { colspan: 4 }, "No webhooks yet")));
  }

  async function remove(hook) {
    if (!confirm(`Delete the webhook to ${hook.url} and its deliveries?`)) return;
    await api(`webhooks/${hook.id}`, { method: "DELETE" });
    deliveriesBox.hidden = true;
    await load();
  }

  async function showDeliveries(hook) {
    const page = await api(`webhooks/${hook.id}/deliveries`, { query: { limit: 50 } });
    const rows = page.items.map((a) => h("tr", {},
      h("td", {}, fmt(a.delivered_at)), h("td", {}, a.event), h("td", {}, a.attempt),
      h("td", {}, a.status_code === null ? a.error : a.status_code),
      h("td", {}, `${a.latency_ms} ms`), h("td", {}, a.delivery_status),
      h("td", {}, h("button", { type: "button", onclick: () => resend(hook, a).catch(fail) },
        "Re-send"))));
    deliveriesBox.replaceChildren(h("h2", {}, `Recent deliveries to ${hook.url}`),
      rows.length ? h("table", { class: "grid" }, h("thead", {}, h("tr", {},
        ...["When", "Event", "Try", "Result", "Latency", "Delivery", ""].map((t) => h("th", {}, t)))),
        h("tbody", {}, rows)) : h("p", {}, "No deliveries yet"));
    deliveriesBox.hidden = false;
  }

  async function resend(hook, attempt) {
    await api(`webhooks/deliveries/${attempt.delivery_id}/resend`, { method: "POST" });
    flash("Delivery queued again", "ok");
    setTimeout(() => showDeliveries(hook).catch(fail), 1500);
  }

  document.getElementById("new-webhook").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      const hook = await api("webhooks", { method: "POST",
        json: { url: form.get("url"), events: form.getAll("events") } });
      secretBox.replaceChildren(h("p", {}, "Signing secret — copy it now, it is not shown again:"),
        h("code", {}, hook.secret));
      secretBox.hidden = false;
      event.target.reset();
      await load();
    } catch (err) {
      fail(err);
    }
  });

  load().catch(fail);
})();

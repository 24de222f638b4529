// Ủy thác: page behaviour without inline scripts. htmx sends Django's CSRF token with every request.
document.body.addEventListener("htmx:configRequest", (event) => {
  const token = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (token) event.detail.headers["X-CSRFToken"] = token.value;
});
// Buttons marked data-print open the browser's print dialog.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-print]");
  if (button) { event.preventDefault(); window.print(); }
});
// Forms marked data-once disable their submit buttons after the first submit (double-click guard).
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.matches("[data-once]")) {
    if (form.dataset.sent) { event.preventDefault(); return; }
    form.dataset.sent = "1";
    form.querySelectorAll("button[type=submit]").forEach((b) => b.setAttribute("aria-disabled", "true"));
  }
});
// Select boxes marked data-filter get a search box above them that hides the options not matching what is typed
// (long household lists); accents are ignored, so "hoa" finds "Hòa".
const foldText = (text) => text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/g, "d").replace(/Đ/g, "D").toLowerCase();
document.querySelectorAll("select[data-filter]").forEach((select) => {
  const box = document.createElement("input");
  box.type = "search";
  box.className = "form-control form-control-sm mb-1";
  box.placeholder = select.dataset.filter;
  box.setAttribute("aria-label", select.dataset.filter);
  select.before(box);
  const options = Array.from(select.options).map((option) => [option, foldText(option.text)]);
  box.addEventListener("input", () => {
    const words = foldText(box.value.trim());
    options.forEach(([option, text]) => { option.hidden = Boolean(words) && !text.includes(words) && !option.selected; });
  });
});
// A table wider than its box scrolls sideways: make that box reachable with Tab so that the arrow keys can scroll it
// (WCAG 2.1.1, keyboard), and drop the extra tab stop again when the table fits.
const markScrollableTables = () => {
  document.querySelectorAll(".table-responsive").forEach((region) => {
    const scrolls = region.scrollWidth > region.clientWidth + 1;
    if (scrolls && !region.hasAttribute("tabindex")) {
      region.tabIndex = 0;
      region.dataset.scrollFocus = "1";
    } else if (!scrolls && region.dataset.scrollFocus) {
      region.removeAttribute("tabindex");
      delete region.dataset.scrollFocus;
    }
  });
};
markScrollableTables();
window.addEventListener("resize", markScrollableTables);
document.body.addEventListener("htmx:afterSettle", markScrollableTables);
// Error summary (templates/includes/error_summary.html): focused when the page loads so a screen reader reads it
// first; its links move the focus to their field, not only the scroll position.
const errorSummary = document.querySelector("[data-error-summary]");
if (errorSummary) errorSummary.focus();
document.addEventListener("click", (event) => {
  const link = event.target.closest("[data-error-summary] a[href^='#']");
  if (!link) return;
  // A group of radio buttons has no element of the field's id: crispy's wrapper div_<id> holds its inputs.
  const id = link.getAttribute("href").slice(1);
  const target = document.getElementById(id) || document.getElementById(`div_${id}`);
  const field = target && (target.matches("input, select, textarea") ? target : target.querySelector("input, select, textarea"));
  if (!field) return;
  event.preventDefault();
  (field.closest(".mb-3, fieldset") || field).scrollIntoView({ block: "start" });
  field.focus({ preventScroll: true });
});
// Amount inputs (data-amount, loans.forms.fields.AmountField) get Vietnamese thousands dots as they are typed:
// 150000000 becomes 150.000.000. The caret stays after the same digit; anything but digits, dots and spaces is left
// as typed for the server to refuse with its own message.
const groupThousands = (digits) => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ".");
document.addEventListener("input", (event) => {
  const input = event.target;
  if (!input.matches || !input.matches("input[data-amount]")) return;
  const value = input.value;
  const digits = value.replace(/[.\s]/g, "");
  if (!/^\d*$/.test(digits)) return;
  const formatted = groupThousands(digits);
  if (formatted === value) return;
  const caret = input.selectionStart ?? value.length;
  const digitsBefore = value.slice(0, caret).replace(/\D/g, "").length;
  input.value = formatted;
  let position = 0;
  for (let seen = 0; position < formatted.length && seen < digitsBefore; position += 1) {
    if (/\d/.test(formatted[position])) seen += 1;
  }
  input.setSelectionRange(position, position);
});
// The service worker (templates/sw.js) keeps the collection sheets an officer opens, for a dropped connection at the
// transaction point. Pages seen signed out (the login page, after signing out) forget them.
if ("serviceWorker" in navigator && document.body.dataset.serviceWorker) {
  navigator.serviceWorker.register(document.body.dataset.serviceWorker).catch(() => {});
}
if (window.caches && "forgetPages" in document.body.dataset) caches.delete("uythac-sheets").catch(() => {});

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

// Ward and group pickers that search as the user types (organizations/pickers.py). A select marked
// data-picker-url becomes a combobox (WAI-ARIA 1.2 pattern): a labelled text box whose suggestions are fetched with
// htmx from that URL as options of a listbox. The select stays in the form, hidden, and still submits the chosen id;
// without JavaScript it is an ordinary select.
(function () {
  let serial = 0;
  const setup = (select) => {
    if (select.dataset.pickerReady) return;
    select.dataset.pickerReady = "1";
    serial += 1;
    const id = select.id || `picker-${serial}`;
    const listId = `${id}-suggestions`;
    const emptyOption = Array.from(select.options).find((option) => option.value === "");
    const input = document.createElement("input");
    input.type = "text";
    input.id = id;
    input.className = select.className.replace(/form-select/g, "form-control") || "form-control";
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", listId);
    input.autocomplete = "off";
    input.spellcheck = false;
    if (emptyOption) input.placeholder = emptyOption.text;
    ["aria-describedby", "aria-invalid", "required"].forEach((name) => {
      if (select.hasAttribute(name)) input.setAttribute(name, select.getAttribute(name));
    });
    const list = document.createElement("ul");
    list.id = listId;
    list.className = "picker-list list-group shadow-sm";
    list.setAttribute("role", "listbox");
    const label = document.querySelector(`label[for="${id}"]`);
    if (label) {
      if (!label.id) label.id = `${id}-label`;
      list.setAttribute("aria-labelledby", label.id);
    }
    list.hidden = true;
    const box = document.createElement("div");
    box.className = "picker position-relative";
    select.id = `${id}-select`;
    select.hidden = true;
    select.tabIndex = -1;
    select.before(box);
    box.append(input, list, select);

    const chosenText = () => (select.value ? select.options[select.selectedIndex].text : "");
    input.value = chosenText();
    let active = -1;
    let timer = null;
    const options = () => Array.from(list.querySelectorAll("[role=option]"));
    const close = () => {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    };
    const open = () => {
      if (!list.children.length) return;
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    };
    const highlight = (index) => {
      const all = options();
      if (!all.length) return;
      active = (index + all.length) % all.length;
      all.forEach((option, i) => {
        option.setAttribute("aria-selected", String(i === active));
        option.classList.toggle("active", i === active);
      });
      input.setAttribute("aria-activedescendant", all[active].id);
      all[active].scrollIntoView({ block: "nearest" });
    };
    const choose = (option) => {
      const value = option.dataset.value;
      let match = Array.from(select.options).find((o) => o.value === value);
      if (!match) {
        match = new Option(option.textContent, value);
        select.add(match);
      }
      select.value = value;
      input.value = match.text;
      select.dispatchEvent(new Event("change", { bubbles: true }));
      close();
    };
    const search = () => {
      const url = new URL(select.dataset.pickerUrl, window.location.href);
      url.searchParams.set("q", input.value.trim());
      htmx.ajax("GET", url.pathname + url.search, { target: list, swap: "innerHTML" }).then(() => {
        options().forEach((option, i) => { option.id = `${listId}-${i}`; });
        active = -1;
        input.removeAttribute("aria-activedescendant");
        if (document.activeElement === input) open();
      });
    };
    input.addEventListener("input", () => {
      if (!input.value.trim() && emptyOption) select.value = "";
      clearTimeout(timer);
      timer = setTimeout(search, 200);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (list.hidden) {
          if (list.children.length) open(); else { search(); return; }
        }
        highlight(active + (event.key === "ArrowDown" ? 1 : -1));
      } else if (event.key === "Enter" && !list.hidden && active >= 0) {
        event.preventDefault();
        choose(options()[active]);
      } else if (event.key === "Escape" && !list.hidden) {
        event.preventDefault();
        close();
      }
    });
    // mousedown, not click: the choice is made before the text box loses focus.
    list.addEventListener("mousedown", (event) => {
      const option = event.target.closest("[role=option]");
      if (option) { event.preventDefault(); choose(option); }
    });
    input.addEventListener("blur", () => {
      close();
      // A cleared box means "all"; any other text that was not chosen goes back to the chosen unit.
      if (!input.value.trim() && emptyOption) select.value = "";
      input.value = chosenText();
    });
  };
  const enhance = (root) => root.querySelectorAll("select[data-picker-url]").forEach(setup);
  enhance(document);
  document.body.addEventListener("htmx:afterSettle", (event) => enhance(event.detail.elt));
})();

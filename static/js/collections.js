// Collection sheet (13/TD): fill a row with what is due, keep the column totals live, confirm before posting.
(() => {
  const parse = (text) => {
    const digits = String(text || "").replace(/[.\s\u00a0₫đ]/g, "");
    return /^\d+$/.test(digits) ? parseInt(digits, 10) : 0;
  };
  const format = (value) => value.toLocaleString("vi-VN").replace(/,/g, ".");

  const form = document.getElementById("collection-form");
  const refreshTotals = () => {
    if (!form) return;
    form.querySelectorAll("[data-total]").forEach((cell) => {
      let sum = 0;
      form.querySelectorAll(`[data-sum="${cell.dataset.total}"]`).forEach((input) => { sum += parse(input.value); });
      cell.textContent = format(sum);
    });
  };

  document.addEventListener("click", (event) => {
    const fill = event.target.closest("[data-fill]");
    if (fill) {
      event.preventDefault();
      const input = document.getElementById(fill.dataset.target);
      if (input) { input.value = format(parse(fill.dataset.fill)); refreshTotals(); }
      return;
    }
    const fillAll = event.target.closest("[data-fill-all]");
    if (fillAll && form) {
      event.preventDefault();
      form.querySelectorAll("[data-fill]").forEach((button) => {
        const input = document.getElementById(button.dataset.target);
        if (input && !input.value.trim()) input.value = format(parse(button.dataset.fill));
      });
      refreshTotals();
      return;
    }
    const confirmButton = event.target.closest("button[data-confirm]");
    if (confirmButton && !window.confirm(confirmButton.dataset.confirm)) event.preventDefault();
  });

  if (form) {
    form.addEventListener("input", (event) => { if (event.target.matches("[data-sum]")) refreshTotals(); });
  }

  // A group filter that submits as soon as a group is picked.
  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
})();

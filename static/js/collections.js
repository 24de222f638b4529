// Collection sheet (13/TD) on collection day, often on a phone with a weak signal.
//
// Every row is saved on the server as the officer leaves it (loans:collection_line_entry). Until the server has it,
// what was typed is also kept on the device (IndexedDB), so nothing is lost to a dropped connection, a closed tab or
// an ended session: the rows waiting are sent when the connection comes back or after signing in again. A row that
// someone else saved meanwhile is never overwritten: both amounts are shown and the officer chooses. The sticky bar
// keeps the running totals and the number of households with nothing entered.
(() => {
  const COLUMNS = ["paid", "savings_in", "savings_out"];
  const parse = (text) => {
    const digits = String(text || "").replace(/[.\s\u00a0₫đ]/g, "");
    return /^\d+$/.test(digits) ? parseInt(digits, 10) : 0;
  };
  const format = (value) => String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ".");
  const fold = (text) => text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[đĐ]/g, "d").toLowerCase();

  // A group filter that submits as soon as a group is picked (the sheet list).
  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
  document.addEventListener("click", (event) => {
    const confirmButton = event.target.closest("button[data-confirm]");
    if (confirmButton && !confirmButton.closest("#collection-form") && !window.confirm(confirmButton.dataset.confirm)) {
      event.preventDefault();
    }
  });

  const form = document.getElementById("collection-form");
  if (!form) return;
  const words = JSON.parse(document.getElementById("sheet-words").textContent);
  const sheet = form.dataset.sheet;
  const rows = Array.from(form.querySelectorAll("tr[data-line]"));
  const rowOf = (line) => form.querySelector(`tr[data-line="${line}"]`);
  const inputsOf = (row) => COLUMNS.map((column) => row.querySelector(`input[data-column="${column}"]`));
  const versionOf = (row) => row.querySelector(`input[name="version_${row.dataset.line}"]`);
  const csrf = () => {
    const cookie = document.cookie.split("; ").find((part) => part.startsWith("csrftoken="));
    return cookie ? decodeURIComponent(cookie.split("=")[1]) : form.querySelector("[name=csrfmiddlewaretoken]").value;
  };

  // --- The device's copy: one record per row not yet accepted by the server ------------------------------------
  const store = (() => {
    let opened = null;
    const open = () => {
      if (!window.indexedDB) return Promise.reject(new Error("no IndexedDB"));
      opened = opened || new Promise((resolve, reject) => {
        const request = indexedDB.open("uythac-collection", 1);
        request.onupgradeneeded = () => request.result.createObjectStore("rows", { keyPath: "key" });
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      return opened;
    };
    const run = (mode, work) => open().then((db) => new Promise((resolve, reject) => {
      const transaction = db.transaction("rows", mode);
      const result = work(transaction.objectStore("rows"));
      transaction.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
      transaction.onerror = () => reject(transaction.error);
    }));
    return {
      put: (record) => run("readwrite", (rows) => rows.put(record)).catch(() => {}),
      remove: (key) => run("readwrite", (rows) => rows.delete(key)).catch(() => {}),
      all: () => run("readonly", (rows) => rows.getAll()).catch(() => []),
    };
  })();
  const keyOf = (line) => `${sheet}:${line}`;
  const pending = new Map(); // line -> record {key, sheet, line, values, nothing, version, state}

  // --- Row state, messages and errors ----------------------------------------------------------------------------
  const setState = (row, state) => {
    row.dataset.state = state; // app.css colours the badge by the row's state
    row.querySelector("[data-row-state]").textContent = words[state] || "";
  };
  const showErrors = (row, errors) => {
    inputsOf(row).forEach((input) => {
      const messages = (errors && errors[input.dataset.column]) || [];
      const box = row.querySelector(`[data-error-for="${input.dataset.column}"]`);
      box.textContent = messages.join(" ");
      input.classList.toggle("is-invalid", messages.length > 0);
      if (messages.length) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
    });
    refreshSummary();
  };
  const showMessage = (row, html) => {
    const box = row.querySelector("[data-row-message]");
    box.replaceChildren(...(html ? [html] : []));
    box.hidden = !html;
  };
  const refreshSummary = () => {
    const summary = form.querySelector("[data-row-summary]");
    const list = summary.querySelector("ul");
    list.replaceChildren();
    form.querySelectorAll("input.is-invalid[data-column]").forEach((input) => {
      const message = input.closest("td").querySelector(".field-error").textContent;
      if (!message) return;
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.className = "alert-link";
      link.href = `#${input.id}`;
      link.textContent = `${input.closest("td").dataset.label} – ${message}`;
      item.append(link);
      list.append(item);
    });
    // The server's summary (a refused submit) gives way to this one once the script has checked the rows again.
    const served = form.querySelector("[data-error-summary]");
    if (served && list.children.length) served.hidden = true;
    summary.hidden = list.children.length === 0;
  };

  // --- Totals and counts ------------------------------------------------------------------------------------------
  const isBlank = (row) => inputsOf(row).every((input) => !input.value.trim());
  const refreshTotals = () => {
    COLUMNS.forEach((column) => {
      let sum = 0;
      form.querySelectorAll(`input[data-column="${column}"]`).forEach((input) => { sum += parse(input.value); });
      form.querySelectorAll(`[data-total="${column}"], [data-total-cell="${column}"]`).forEach((cell) => { cell.textContent = format(sum); });
    });
    const count = form.querySelector("[data-unentered-count]");
    if (count) count.textContent = rows.filter(isBlank).length;
  };
  const refreshBanner = () => {
    const waiting = Array.from(pending.values()).filter((record) => record.state !== "refused" && record.state !== "conflict").length;
    const offline = !navigator.onLine;
    const banner = form.querySelector("[data-offline-banner]");
    banner.hidden = !offline;
    if (offline) {
      banner.querySelector("[data-offline-text]").textContent = waiting === 0 ? words.offline_none
        : waiting === 1 ? words.offline_one : words.offline_many.replace("{count}", waiting);
    }
    const sync = form.querySelector("[data-sync-state]");
    if (waiting) sync.textContent = `${words.waiting}: ${waiting}`;
    else if (!sync.dataset.savedAt) sync.textContent = "";
    else sync.textContent = words.saved_at.replace("{time}", sync.dataset.savedAt);
  };

  // --- Sending -----------------------------------------------------------------------------------------------------
  let loginNeeded = false;
  const remember = (row, extra = {}) => {
    const line = row.dataset.line;
    const record = {
      key: keyOf(line), sheet, line, values: inputsOf(row).map((input) => input.value),
      version: versionOf(row).value, nothing: false, state: "waiting", ...extra,
    };
    pending.set(line, record);
    store.put(record);
    setState(row, "waiting");
    refreshBanner();
    return record;
  };
  const forget = (line) => {
    pending.delete(line);
    store.remove(keyOf(line));
    refreshBanner();
  };
  const applySaved = (row, data) => {
    versionOf(row).value = data.version;
    showErrors(row, null);
    showMessage(row, null);
    setState(row, !data.entered ? "empty" : COLUMNS.every((c) => !data.values[c]) ? "nothing" : "saved");
    const sync = form.querySelector("[data-sync-state]");
    sync.dataset.savedAt = new Date().toLocaleTimeString("vi-VN", { hour: "2-digit", minute: "2-digit" });
  };
  const conflictBox = (row, record, theirs) => {
    const box = document.createElement("div");
    box.className = "alert alert-warning small mb-0 p-2";
    box.setAttribute("role", "alert");
    const text = document.createElement("p");
    text.className = "mb-1";
    const shown = (value) => (value === null ? "–" : format(value));
    text.textContent = words.conflict_text.replace("{who}", theirs.by).replace("{time}", theirs.at.split(" ")[0])
      .replace("{paid}", shown(theirs.values.paid)).replace("{savings_in}", shown(theirs.values.savings_in))
      .replace("{savings_out}", shown(theirs.values.savings_out));
    const keep = document.createElement("button");
    keep.type = "button";
    keep.className = "btn btn-sm btn-warning me-2";
    keep.textContent = words.keep_mine;
    keep.addEventListener("click", () => {
      versionOf(row).value = theirs.version;
      send(remember(row, { nothing: record.nothing }));
    });
    const use = document.createElement("button");
    use.type = "button";
    use.className = "btn btn-sm btn-outline-dark";
    use.textContent = words.use_theirs;
    use.addEventListener("click", () => {
      inputsOf(row).forEach((input, index) => {
        const value = theirs.values[COLUMNS[index]];
        input.value = value === null ? "" : format(value);
      });
      forget(row.dataset.line);
      applySaved(row, theirs);
      refreshTotals();
    });
    box.append(text, keep, use);
    return box;
  };
  const sending = new Set();
  const send = async (record) => {
    const row = rowOf(record.line);
    if (!row || loginNeeded || !navigator.onLine || sending.has(record.line)) return;
    sending.add(record.line);
    setState(row, "sending");
    const body = new FormData();
    COLUMNS.forEach((column, index) => body.append(column, record.values[index]));
    body.append("version", record.version);
    if (record.nothing) body.append("nothing", "1");
    let response;
    try {
      response = await fetch(row.dataset.entryUrl, {
        method: "POST", body, credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": csrf() },
      });
    } catch (error) { // no connection: the record stays on the device
      sending.delete(record.line);
      setState(row, "waiting");
      refreshBanner();
      return;
    }
    sending.delete(record.line);
    let data = {};
    try { data = await response.json(); } catch (error) { data = {}; }
    const current = pending.get(record.line);
    const typedSince = current && current !== record; // the officer typed again while this one was on its way
    if (response.status === 401 || data.state === "login") {
      loginNeeded = true;
      setState(row, "waiting");
      const banner = form.querySelector("[data-login-banner]");
      banner.querySelector("[data-login-text]").textContent = words.login;
      banner.hidden = false;
      return;
    }
    if (data.state === "saved") {
      if (typedSince) {
        versionOf(row).value = data.version;
        current.version = data.version;
        store.put(current);
        send(current);
        return;
      }
      forget(record.line);
      applySaved(row, data);
    } else if (data.state === "refused") {
      record.state = "refused";
      store.put(record);
      setState(row, "refused");
      showErrors(row, data.errors);
    } else if (data.state === "conflict") {
      record.state = "conflict";
      store.put(record);
      setState(row, "conflict");
      showMessage(row, conflictBox(row, record, data.theirs));
    } else if (data.state === "closed") {
      setState(row, "refused");
      const note = document.createElement("div");
      note.className = "alert alert-danger small mb-0 p-2";
      note.textContent = data.message || words.closed;
      showMessage(row, note);
    } else { // an unexpected answer (a server error): keep the record and try again later
      setState(row, "waiting");
    }
    refreshBanner();
  };
  const flush = () => Promise.all(Array.from(pending.values())
    .filter((record) => record.state === "waiting")
    .map((record) => send(record)));

  // --- The officer's actions ---------------------------------------------------------------------------------------
  const changed = (row) => {
    showMessage(row, null);
    remember(row);
    refreshTotals();
  };
  form.addEventListener("input", (event) => {
    const input = event.target;
    if (!input.matches("input[data-column]")) return;
    changed(input.closest("tr"));
  });
  // A row is sent when the officer leaves it (the focus moves outside the row), or at once for a tapped button.
  form.addEventListener("focusout", (event) => {
    const row = event.target.closest && event.target.closest("tr[data-line]");
    if (!row || (event.relatedTarget && row.contains(event.relatedTarget))) return;
    const record = pending.get(row.dataset.line);
    if (record && record.state === "waiting") send(record);
  });
  form.addEventListener("click", (event) => {
    const fill = event.target.closest("[data-fill]");
    if (fill) {
      event.preventDefault();
      const input = document.getElementById(fill.dataset.target);
      if (input) {
        input.value = format(parse(fill.dataset.fill));
        const row = input.closest("tr");
        send(remember(row));
        refreshTotals();
      }
      return;
    }
    if (event.target.closest("[data-fill-all]")) {
      event.preventDefault();
      rows.filter(isBlank).forEach((row) => {
        const button = row.querySelector("[data-fill]");
        inputsOf(row)[0].value = format(parse(button.dataset.fill));
        remember(row);
      });
      refreshTotals();
      flush();
      return;
    }
    const nothing = event.target.closest("[data-nothing]");
    if (nothing) {
      event.preventDefault();
      const row = rowOf(nothing.dataset.nothing);
      inputsOf(row).forEach((input) => { input.value = "0"; });
      refreshTotals();
      send(remember(row, { nothing: true }));
      const listed = nothing.closest(".unentered-list li");
      if (listed) listed.classList.add("text-decoration-line-through", "text-body-secondary");
      return;
    }
    const theirs = event.target.closest("[data-use-theirs]");
    if (theirs) {
      const row = theirs.closest("tr");
      theirs.dataset.values.split(" ").forEach((value, index) => { inputsOf(row)[index].value = format(parse(value)); });
      versionOf(row).value = theirs.dataset.version;
      forget(row.dataset.line);
      theirs.closest("[data-conflict]").remove();
      setState(row, "saved");
      refreshTotals();
    }
  });
  // Enter in an amount box moves to the next box instead of sending the whole form.
  form.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || !event.target.matches("input[data-column]")) return;
    event.preventDefault();
    const inputs = Array.from(form.querySelectorAll("input[data-column]")).filter((input) => !input.closest("tr").hidden);
    const next = inputs[inputs.indexOf(event.target) + 1];
    if (next) next.focus(); else event.target.blur();
  });
  // "Save draft" sends what waits, without leaving the page; "Post" sends it first, then posts the whole form.
  form.addEventListener("submit", (event) => {
    const button = event.submitter;
    // The page stays: the double-submit guard (app.js) must not lock the buttons.
    const stay = () => { event.preventDefault(); event.stopPropagation(); };
    if (button && button.matches("[data-save]")) {
      stay();
      if (!navigator.onLine) { refreshBanner(); return; }
      flush().then(() => {
        const sync = form.querySelector("[data-sync-state]");
        if (!pending.size) sync.textContent = words.all_saved;
      });
      return;
    }
    if (button && button.matches("[name=action][value=post]")) {
      if (!navigator.onLine) {
        stay();
        const sync = form.querySelector("[data-sync-state]");
        sync.textContent = words.offline_post;
        return;
      }
      // A row still on its way holds the sheet for a moment: post once it has arrived, or the posting would find
      // the sheet busy with the officer's own save.
      if (sending.size && !form.dataset.waited) {
        stay();
        const began = Date.now();
        const retry = () => {
          if (sending.size && Date.now() - began < 15000) { setTimeout(retry, 100); return; }
          form.dataset.waited = "1";
          form.requestSubmit(button);
        };
        retry();
        return;
      }
      if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) {
        stay();
        delete form.dataset.waited;
        return;
      }
      // The form carries every row's amounts and versions: the rows waiting go in with the posting itself.
      pending.forEach((record) => store.remove(record.key));
    }
    const focused = document.activeElement && document.activeElement.closest("tr[data-line]");
    const at = form.querySelector("[data-at]");
    if (at && focused) at.value = focused.id;
  });

  // --- Find a household --------------------------------------------------------------------------------------------
  const search = form.querySelector("[data-row-search]");
  if (search) {
    search.addEventListener("input", () => {
      const wanted = fold(search.value.trim());
      let shown = 0;
      rows.forEach((row) => {
        row.hidden = Boolean(wanted) && !fold(row.dataset.name).includes(wanted);
        if (!row.hidden) shown += 1;
      });
      form.querySelector("[data-no-match]").hidden = shown > 0;
    });
  }

  // --- Coming back: what the device kept is put back and sent ------------------------------------------------------
  window.addEventListener("online", () => { refreshBanner(); flush(); });
  window.addEventListener("offline", refreshBanner);
  store.all().then((records) => {
    records.filter((record) => record.sheet === sheet).forEach((record) => {
      const row = rowOf(record.line);
      if (!row) { store.remove(record.key); return; }
      const inputs = inputsOf(row);
      const same = inputs.every((input, index) => parse(input.value) === parse(record.values[index])
        && Boolean(input.value.trim()) === Boolean(String(record.values[index]).trim()));
      if (same) { store.remove(record.key); return; } // the server has it already (its answer was lost)
      inputs.forEach((input, index) => { input.value = record.values[index]; });
      record.state = "waiting";
      pending.set(record.line, record);
      setState(row, "waiting");
    });
    refreshTotals();
    refreshBanner();
    flush();
  });
  refreshTotals();
  refreshBanner();
  if (window.location.hash.startsWith("#line-")) {
    const row = document.getElementById(window.location.hash.slice(1));
    if (row) { row.scrollIntoView({ block: "center" }); const input = inputsOf(row)[0]; if (input) input.focus({ preventScroll: true }); }
  }
  const unentered = document.getElementById("unentered");
  if (unentered && !form.querySelector("[data-error-summary]")) unentered.focus();
})();

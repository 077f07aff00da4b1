// credencial front desk. Talks only to the server that served it (CSP default-src 'self').
"use strict";

const TEXT = {
  es: {
    title: "Verificación de credencial",
    scanLabel: "Escanee la tarjeta o el código del monedero",
    scanHint: "El lector escribe el código y pulsa Intro. Esc borra la pantalla.",
    upload: "Subir foto de la tarjeta",
    cameraOn: "Usar la cámara",
    cameraOff: "Apagar la cámara",
    capture: "Leer la imagen de la cámara",
    busy: "Verificando…",
    name: "Nombre",
    institution: "Institución",
    program: "Programa",
    validity: "Vigencia",
    next: "Escanee la siguiente credencial, o pulse Esc.",
    switchTo: "English",
    unreadable: "SIN LECTURA",
    trustOk: (v, age) => `Paquete de confianza v${v} · emitido hace ${age}`,
    trustWarning: (v, left) =>
      `⚠ Sincronice pronto: el paquete de confianza v${v} vence en ${left}`,
    trustStale: (v) => `✘ Datos de confianza vencidos (v${v}): sincronice el verificador`,
    trustMissing: (msg) => `✘ Sin paquete de confianza: ${msg}`,
    counts: (c) =>
      `Hoy: ${c.VALID} válidas · ${c.INVALID} no válidas · ${c.INDETERMINATE} indeterminadas`,
    offline: "✘ No hay conexión con el verificador local",
    cameraError: "No se pudo usar la cámara",
    tooLarge: "La imagen es demasiado grande (más de 20 MB). Use una foto más pequeña.",
    hours: (h) => (h < 1 ? "menos de 1 hora" : h < 48 ? `${Math.floor(h)} h` : `${Math.floor(h / 24)} días`),
  },
  en: {
    title: "Credential verification",
    scanLabel: "Scan the card or the wallet code",
    scanHint: "The scanner types the code and presses Enter. Esc clears the screen.",
    upload: "Upload a photo of the card",
    cameraOn: "Use the camera",
    cameraOff: "Turn the camera off",
    capture: "Read the camera image",
    busy: "Verifying…",
    name: "Name",
    institution: "Institution",
    program: "Program",
    validity: "Valid",
    next: "Scan the next credential, or press Esc.",
    switchTo: "Español",
    unreadable: "NOT READ",
    trustOk: (v, age) => `Trust bundle v${v} · issued ${age} ago`,
    trustWarning: (v, left) => `⚠ Sync soon: trust bundle v${v} goes stale in ${left}`,
    trustStale: (v) => `✘ Trust data is stale (v${v}): sync the verifier`,
    trustMissing: (msg) => `✘ No trust bundle: ${msg}`,
    counts: (c) =>
      `Today: ${c.VALID} valid · ${c.INVALID} invalid · ${c.INDETERMINATE} indeterminate`,
    offline: "✘ The local verifier cannot be reached",
    cameraError: "The camera could not be used",
    tooLarge: "The image is too large (over 20 MB). Use a smaller photo.",
    hours: (h) => (h < 1 ? "less than 1 hour" : h < 48 ? `${Math.floor(h)} h` : `${Math.floor(h / 24)} days`),
  },
};

const $ = (id) => document.getElementById(id);
const scan = $("scan");
const verdictView = $("verdict");
let lang = localStorage.getItem("credencial-desk-lang") === "en" ? "en" : "es";
let clearAfterSeconds = 20;
let maxImageBytes = 20 * 1024 * 1024;
let lastStatus = null;
let shown = null; // what the verdict screen shows: {kind: "verdict"|"unreadable", data}
let clearTimer = null;
let requestSeq = 0;
let stream = null;

function t(key) {
  return TEXT[lang][key];
}

// -- language --------------------------------------------------------------------------------

function applyLanguage() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  $("camera").textContent = stream ? t("cameraOff") : t("cameraOn");
  const button = $("lang");
  button.textContent = t("switchTo");
  button.lang = lang === "es" ? "en" : "es";
  renderStatus();
  renderShown();
}

$("lang").addEventListener("click", () => {
  lang = lang === "es" ? "en" : "es";
  localStorage.setItem("credencial-desk-lang", lang);
  applyLanguage();
});

// -- status line -----------------------------------------------------------------------------

function renderStatus() {
  const line = $("trust-line");
  if (!lastStatus) return;
  if (lastStatus.offline) {
    line.dataset.state = "missing";
    line.textContent = t("offline");
    fitBelowStatusBar();
    return;
  }
  const trust = lastStatus.trust;
  line.dataset.state = trust.state;
  const hours = TEXT[lang].hours;
  if (trust.state === "missing") line.textContent = TEXT[lang].trustMissing(trust.message[lang]);
  else if (trust.state === "clock") line.textContent = `✘ ${trust.message[lang]}`;
  else if (trust.state === "stale") line.textContent = TEXT[lang].trustStale(trust.version);
  else if (trust.state === "warning")
    line.textContent = TEXT[lang].trustWarning(trust.version, hours(trust.staleInHours));
  else line.textContent = TEXT[lang].trustOk(trust.version, hours(trust.ageHours));
  $("counts-line").textContent = TEXT[lang].counts(lastStatus.counts);
  fitBelowStatusBar();
}

function fitBelowStatusBar() {
  const height = document.querySelector(".status-bar").offsetHeight;
  document.documentElement.style.setProperty("--header", `${height}px`);
}
window.addEventListener("resize", fitBelowStatusBar);

function takeStatus(status) {
  lastStatus = status;
  clearAfterSeconds = status.clearAfterSeconds;
  maxImageBytes = status.maxImageBytes;
  renderStatus();
}

async function refreshStatus() {
  try {
    const response = await fetch("/api/status", { cache: "no-store" });
    takeStatus(await response.json());
  } catch (error) {
    lastStatus = { offline: true };
    renderStatus();
  }
}

// -- verdict screen --------------------------------------------------------------------------

function renderShown() {
  if (!shown) {
    verdictView.hidden = true;
    verdictView.dataset.verdict = "";
    return;
  }
  const reasons = $("reasons");
  reasons.replaceChildren();
  const holder = $("holder");
  if (shown.kind === "unreadable") {
    verdictView.dataset.verdict = "UNREADABLE";
    $("verdict-word").textContent = t("unreadable");
    holder.hidden = true;
    const item = document.createElement("li");
    item.textContent = shown.data.message[lang];
    reasons.append(item);
  } else {
    const data = shown.data;
    verdictView.dataset.verdict = data.verdict;
    $("verdict-word").textContent = data.label[lang];
    holder.hidden = !data.holder;
    if (data.holder) {
      $("holder-name").textContent = data.holder.name;
      $("holder-curp").textContent = data.holder.curp;
      $("holder-institution").textContent = data.holder.institution;
      $("holder-program").textContent = data.holder.program;
      $("holder-validity").textContent = `${data.holder.validFrom} – ${data.holder.validUntil}`;
    }
    if (data.verdict !== "VALID") {
      const seen = new Set(); // two lists stale for the same reason: say it once
      for (const reason of data.reasons) {
        if (seen.has(reason.code)) continue;
        seen.add(reason.code);
        const item = document.createElement("li");
        item.textContent = reason.message[lang];
        const code = document.createElement("span");
        code.className = "code";
        code.textContent = reason.code;
        item.append(code);
        reasons.append(item);
      }
    }
  }
  verdictView.hidden = false;
}

function show(kind, data) {
  shown = { kind, data };
  renderShown();
  clearTimeout(clearTimer);
  if (clearAfterSeconds > 0) clearTimer = setTimeout(clearVerdict, clearAfterSeconds * 1000);
}

function clearVerdict() {
  clearTimeout(clearTimer);
  shown = null;
  renderShown();
  scan.focus();
}

async function submit(url, body, contentType) {
  const seq = ++requestSeq;
  $("busy").hidden = false;
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": contentType, "X-Credencial-Desk": "1" },
      body,
      cache: "no-store",
    });
    const data = await response.json();
    if (seq !== requestSeq) return; // a newer scan replaced this one
    if (response.ok) {
      takeStatus(data.status);
      show("verdict", data);
    } else if (response.status === 413) {
      show("unreadable", { message: { es: TEXT.es.tooLarge, en: TEXT.en.tooLarge } });
    } else if (data.error && data.error.message) {
      show("unreadable", data.error);
    } else {
      show("unreadable", { message: { es: data.error.detail, en: data.error.detail } });
    }
  } catch (error) {
    if (seq !== requestSeq) return;
    lastStatus = { offline: true };
    renderStatus();
  } finally {
    if (seq === requestSeq) $("busy").hidden = true;
  }
}

// -- scanner input (a USB keyboard-wedge scanner types the code, then Enter) -----------------

scan.addEventListener("keydown", (event) => {
  if (event.key !== "Enter") return;
  event.preventDefault();
  const text = scan.value.trim();
  scan.value = "";
  if (text) submit("/api/verify", text, "text/plain; charset=utf-8");
});

document.addEventListener(
  "keydown",
  (event) => {
    if (event.key === "Escape") {
      clearVerdict();
      return;
    }
    // A scan that starts while a button has the focus still goes to the scanner input.
    const printable = event.key.length === 1 && !event.ctrlKey && !event.altKey && !event.metaKey;
    if (printable && document.activeElement !== scan && event.key !== " ") scan.focus();
  },
  true,
);

// Keep the focus on the scanner input unless the user moved it to a control on purpose.
scan.addEventListener("blur", () => {
  setTimeout(() => {
    const active = document.activeElement;
    if (!active || active === document.body) scan.focus();
  }, 0);
});

// -- images: an uploaded photo or a webcam frame, read on the local server -------------------

$("upload").addEventListener("click", () => $("photo").click());
$("photo").addEventListener("change", () => {
  const file = $("photo").files[0];
  $("photo").value = "";
  scan.focus();
  if (!file) return;
  if (file.size > maxImageBytes) {
    show("unreadable", { message: { es: TEXT.es.tooLarge, en: TEXT.en.tooLarge } });
    return;
  }
  submit("/api/verify-image", file, file.type || "application/octet-stream");
});

async function toggleCamera() {
  const video = $("video");
  if (stream) {
    for (const track of stream.getTracks()) track.stop();
    stream = null;
    video.hidden = true;
    $("capture").hidden = true;
    $("camera").textContent = t("cameraOn");
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: "environment", width: { ideal: 1920 } },
      audio: false,
    });
  } catch (error) {
    show("unreadable", { message: { es: TEXT.es.cameraError, en: TEXT.en.cameraError } });
    return;
  }
  video.srcObject = stream;
  video.hidden = false;
  await video.play();
  $("capture").hidden = false;
  $("camera").textContent = t("cameraOff");
  $("capture").focus();
}

function captureFrame() {
  const video = $("video");
  if (!stream || !video.videoWidth) return;
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  canvas.toBlob((blob) => {
    if (blob) submit("/api/verify-image", blob, "image/png");
  }, "image/png");
}

$("camera").addEventListener("click", toggleCamera);
$("capture").addEventListener("click", captureFrame);

// -- start -----------------------------------------------------------------------------------

applyLanguage();
refreshStatus();
setInterval(refreshStatus, 60 * 1000);
scan.focus();

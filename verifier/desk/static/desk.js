// credencial front desk. Talks only to the server that served it (CSP default-src 'self').
"use strict";

// "1 válida", "0 válidas", "2 válidas": Spanish and English both use the singular for one only.
function plural(n, one, other) {
  return `${n} ${n === 1 ? one : other}`;
}

// Hours as "5 h", "2 días 12 h" (whole hours, rounded down).
function duration(hours, underOne, day, days) {
  if (hours < 1) return underOne;
  const whole = Math.floor(hours);
  if (whole < 48) return `${whole} h`;
  const d = Math.floor(whole / 24);
  const h = whole % 24;
  return `${d} ${d === 1 ? day : days}` + (h ? ` ${h} h` : "");
}

const TEXT = {
  es: {
    title: "Verificación de credencial",
    scanLabel: "Escanee la tarjeta o el código del monedero",
    scanHint: "El lector escribe el código y pulsa Intro. Esc borra la pantalla.",
    upload: "Subir foto de la tarjeta",
    cameraOn: "Usar la cámara",
    cameraOff: "Apagar la cámara",
    cameraHint: "Acerque el código a la cámara: se lee solo.",
    busy: "Verificando…",
    name: "Nombre",
    institution: "Institución",
    program: "Programa",
    validity: "Vigencia",
    next: "Escanee la siguiente credencial, o pulse Esc.",
    switchTo: "English",
    unreadable: "SIN LECTURA",
    idCheck: "Compare el nombre con una identificación oficial.",
    details: "Detalles",
    trustOk: (v, age, left) =>
      `Paquete de confianza v${v} · información de hace ${age} · vigente ${left} más`,
    trustWarning: (v, left) =>
      `⚠ Sincronice pronto: el paquete de confianza v${v} vence en ${left}`,
    trustStale: (v) => `✘ Datos de confianza vencidos (v${v}): sincronice el verificador`,
    trustMissing: (msg) => `✘ Sin paquete de confianza: ${msg}`,
    counts: (c) =>
      `Hoy: ${plural(c.VALID, "válida", "válidas")} · ${plural(c.INVALID, "no válida", "no válidas")}` +
      ` · ${plural(c.INDETERMINATE, "indeterminada", "indeterminadas")}`,
    offline: "✘ No hay conexión con el verificador local",
    cameraError: "No se pudo usar la cámara",
    tooLarge: "La imagen es demasiado grande (más de 20 MB). Use una foto más pequeña.",
    hours: (h) => duration(h, "menos de 1 hora", "día", "días"),
  },
  en: {
    title: "Credential verification",
    scanLabel: "Scan the card or the wallet code",
    scanHint: "The scanner types the code and presses Enter. Esc clears the screen.",
    upload: "Upload a photo of the card",
    cameraOn: "Use the camera",
    cameraOff: "Turn the camera off",
    cameraHint: "Hold the code up to the camera: it is read by itself.",
    busy: "Verifying…",
    name: "Name",
    institution: "Institution",
    program: "Program",
    validity: "Valid",
    next: "Scan the next credential, or press Esc.",
    switchTo: "Español",
    unreadable: "NOT READ",
    idCheck: "Compare the name with an official identity document.",
    details: "Details",
    trustOk: (v, age, left) => `Trust bundle v${v} · information ${age} old · usable ${left} more`,
    trustWarning: (v, left) => `⚠ Sync soon: trust bundle v${v} goes stale in ${left}`,
    trustStale: (v) => `✘ Trust data is stale (v${v}): sync the verifier`,
    trustMissing: (msg) => `✘ No trust bundle: ${msg}`,
    counts: (c) =>
      `Today: ${c.VALID} valid · ${c.INVALID} invalid · ${c.INDETERMINATE} indeterminate`,
    offline: "✘ The local verifier cannot be reached",
    cameraError: "The camera could not be used",
    tooLarge: "The image is too large (over 20 MB). Use a smaller photo.",
    hours: (h) => duration(h, "less than 1 hour", "day", "days"),
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
  else
    line.textContent = TEXT[lang].trustOk(
      trust.version,
      hours(trust.informationAgeHours),
      hours(trust.staleInHours),
    );
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
  const details = $("details");
  details.textContent = "";
  const idCheck = $("id-check");
  idCheck.hidden = true;
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
        reasons.append(item);
      }
      if (seen.size) details.textContent = `${t("details")}: ${[...seen].join(" · ")}`;
    }
    idCheck.hidden = !data.idCheck;
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

// The camera reads by itself: a frame every SCAN_INTERVAL_MS is sent to the local server, which
// looks for the card's QR code (zxing-cpp); nothing leaves this machine. A code is verified once
// while it stays in view: the same code is read again only after it has left the picture.
const SCAN_INTERVAL_MS = 200;
const FRAME_WIDTH = 1280;
const GONE_AFTER_FRAMES = 5; // frames without a code before the same code counts again
let scanTimer = null;
let lastRead = null;
let framesWithout = 0;

function stopCamera() {
  clearTimeout(scanTimer);
  scanTimer = null;
  if (stream) for (const track of stream.getTracks()) track.stop();
  stream = null;
  lastRead = null;
  $("video").hidden = true;
  $("camera-hint").hidden = true;
  $("camera").textContent = t("cameraOn");
}

async function toggleCamera() {
  const video = $("video");
  if (stream) {
    stopCamera();
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
  $("camera-hint").hidden = false;
  await video.play();
  $("camera").textContent = t("cameraOff");
  scheduleScan(0);
}

function scheduleScan(delay) {
  clearTimeout(scanTimer);
  if (stream) scanTimer = setTimeout(scanFrame, delay);
}

function frameBlob(video) {
  const scale = Math.min(1, FRAME_WIDTH / video.videoWidth);
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(video.videoWidth * scale);
  canvas.height = Math.round(video.videoHeight * scale);
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
}

async function scanFrame() {
  const video = $("video");
  if (!stream) return;
  if (!video.videoWidth) {
    scheduleScan(SCAN_INTERVAL_MS);
    return;
  }
  let text = null;
  try {
    const blob = await frameBlob(video);
    if (blob) {
      const response = await fetch("/api/read-image", {
        method: "POST",
        headers: { "Content-Type": "image/jpeg", "X-Credencial-Desk": "1" },
        body: blob,
        cache: "no-store",
      });
      if (response.ok) text = (await response.json()).text;
    }
  } catch (error) {
    // the local server is unreachable: the status line says so; keep trying
  }
  if (!text) {
    framesWithout += 1;
    if (framesWithout >= GONE_AFTER_FRAMES) lastRead = null;
  } else {
    framesWithout = 0;
    if (text !== lastRead) {
      lastRead = text;
      await submit("/api/verify", text, "text/plain; charset=utf-8");
    }
  }
  scheduleScan(SCAN_INTERVAL_MS);
}

$("camera").addEventListener("click", toggleCamera);

// -- start -----------------------------------------------------------------------------------

applyLanguage();
refreshStatus();
setInterval(refreshStatus, 60 * 1000);
scan.focus();

/* credencial phone wallet: the screens. Spanish first, English with the switch. */
"use strict";

(() => {
  const W = self.WalletCore;

  /* -- words ------------------------------------------------------------------------------ */
  const TEXT = {
    es: {
      appName: "Mi credencial de salud", skip: "Ir al contenido", sections: "Secciones",
      navHome: "Mis credenciales", navReceive: "Recibir", navRequests: "Solicitudes", navGrants: "Permisos",
      navLog: "Quién consultó mis datos", navUnits: "Unidades", navRecord: "Mi expediente", navKey: "Mi llave",
      langSwitch: "English", offline: "Sin conexión", close: "Cerrar",
      brightness: "Suba el brillo de la pantalla y acerque el código al lector.",
      readAloud: "Si no se puede leer el código, lea en voz alta:",
      homeTitle: "Mis credenciales",
      empty: "Aún no tiene credenciales en este teléfono. En su institución le dan un código QR y un PIN para recibirla.",
      receiveNow: "Recibir una credencial",
      name: "Nombre", curp: "CURP", institution: "Institución", program: "Programa", validity: "Vigencia",
      affiliation: "Número de afiliación", unit: "Unidad de adscripción", from: "del", until: "al",
      showCard: "Mostrar tarjeta", refresh: "Actualizar estado", refreshing: "Consultando el estado…",
      remove: "Quitar de este teléfono", removeAsk: "¿Quitar esta credencial del teléfono? Para tenerla otra vez, pida una nueva oferta en su institución.",
      removeYes: "Sí, quitar", removeNo: "No",
      state_VALID: "Vigente", state_SUSPENDED: "Suspendida", state_REVOKED: "Revocada", state_EXPIRED: "Vencida",
      state_NOT_YET_VALID: "Aún no vigente", state_UNCHECKED: "Estado sin verificar",
      state_STALE: "Sin verificar desde {when}",
      checked: "Estado consultado {ago}.", staleHint: "No sabemos si sigue vigente: conéctese a internet y pulse «Actualizar estado».",
      uncheckedHint: "Conéctese a internet y pulse «Actualizar estado».",
      suspendedHint: "Su institución la suspendió. Acuda a su institución para saber por qué.",
      revokedHint: "Su institución la revocó: ya no sirve. Acuda a su institución.",
      refreshOffline: "Sin conexión: no se pudo consultar el estado. Se muestra el último conocido.",
      refreshFailed: "No se pudo consultar el estado ({detail}).",
      receiveTitle: "Recibir una credencial",
      receiveIntro: "En su institución le muestran un código QR y le dicen un PIN de 6 dígitos. El PIN nunca va en el código.",
      scan: "Escanear el código con la cámara", stopScan: "Detener la cámara",
      scanHint: "Apunte la cámara al código QR de la oferta. Se lee solo.",
      cameraLabel: "Imagen de la cámara",
      cameraDenied: "No se pudo usar la cámara ({detail}). Puede pegar el enlace de la oferta.",
      pasteLabel: "O pegue aquí el enlace de la oferta", useLink: "Usar este enlace",
      offerFrom: "Oferta de {issuer}", pinLabel: "PIN de 6 dígitos", pinHint: "El PIN que le dieron en el módulo de afiliación.",
      accept: "Recibir la credencial", cancel: "Cancelar",
      step_token: "Comprobando el PIN…", step_proof: "Firmando con la llave de este teléfono…",
      step_credential: "Recibiendo la credencial…", step_card: "Preparando la tarjeta…",
      received: "Listo: su credencial está en este teléfono.",
      err_OFFER_MALFORMED: "Eso no es una oferta de credencial. Escanee el código que le mostraron en su institución.",
      err_ISSUER_NOT_TRUSTED: "Esta oferta no viene de IMSS, ISSSTE ni IMSS-Bienestar: no la acepte.",
      err_OTHER_ISSUER: "Esta oferta es de {issuer}; ábrala en la cartera de esa institución (esta es la de {here}).",
      err_OFFLINE: "Sin conexión: esto necesita internet. Lo que ya tiene en el teléfono sigue disponible.",
      err_invalid_grant: "El PIN no es correcto o la oferta ya no sirve.",
      err_wrongPin: "El PIN no es correcto. Le quedan {left} intentos.",
      err_lockedOffer: "Esta oferta ya no sirve (vencida, usada o bloqueada por PINs incorrectos). Pida una nueva en su institución.",
      err_NO_ED25519: "Este navegador no puede crear la llave segura (Ed25519). Actualice el navegador.",
      err_NO_CRYPTO: "La cartera solo funciona en una conexión segura (https).",
      err_credential_request_denied: "Su institución ya no ofrece esta credencial (suspendida, revocada o vencida).",
      err_NOT_IJSON: "La institución envió datos dañados o ambiguos; no se usaron. Inténtelo más tarde; si se repite, avise a su institución.",
      err_generic: "No se pudo completar: {detail}",
      pinInvalid: "Escriba los 6 dígitos del PIN.",
      cardTitle: "Tarjeta de {name}", qrLabel: "Código QR de la credencial de {name}",
      validUntil: "Vigente hasta",
      logTitle: "Quién consultó mis datos",
      logIntro: "Cada vez que una institución pide sus datos queda registrado. Para verlo, este teléfono firma una prueba de que usted es el titular.",
      logLoad: "Consultar el registro", loading: "Consultando…",
      logEmpty: "Nadie ha consultado sus datos.", accesses: "Consultas permitidas", refused: "Consultas negadas",
      logLine: "{requester} consultó {what} para {why}", logRefused: "{requester} pidió {what} para {why}; se le negó",
      underConsent: "con su permiso", underOrder: "por orden judicial", underOwn: "usted mismo",
      judicial: "Órdenes judiciales", judicialLine: "{court}, expediente {case}, del {date}",
      unitsTitle: "Unidades con lugar", unitsIntro: "Hospitales y clínicas que atienden su cobertura y tienen lugar ahora, los más cercanos primero.",
      useLocation: "Usar mi ubicación para ordenar por cercanía", search: "Buscar unidades",
      unitsEmpty: "No hay unidades con lugar para su cobertura en este momento.",
      places: "{n} lugares", km: "a {km} km", staleUnit: "dato no actualizado", locationDenied: "Sin ubicación: se muestran sin ordenar por distancia.",
      needCredential: "Primero reciba su credencial en «Recibir».", choose: "Credencial",
      keyTitle: "Mi llave", keyIntro: "Este teléfono creó una llave que firma por usted. Nadie puede copiarla ni sacarla del teléfono, ni siquiera esta aplicación.",
      keyId: "Identificador de su llave (did:key)", keyCreated: "Creada el",
      lostTitle: "Si pierde o cambia de teléfono",
      lostText: "La llave se pierde con el teléfono. Acuda a su institución con una identificación: le darán una nueva oferta (código QR y PIN) para recibir su credencial en el teléfono nuevo. La credencial del teléfono perdido no le sirve a nadie más: solo esa llave puede presentarla. Su tarjeta impresa sigue sirviendo.",
      installTitle: "Sin conexión",
      installText: "Después de la primera visita, esta cartera abre sin internet: sus credenciales, la tarjeta y el último estado conocido. Consultar el estado, recibir, y ver solicitudes, permisos, accesos y unidades necesita internet.",
      requestsIntro: "Cuando una institución quiere ver datos suyos que guarda otra, se lo pide a usted. Usted decide: aprobar, aprobar solo una parte o negar.",
      loadRequests: "Ver solicitudes",
      tab_pending: "Pendientes", tab_approved: "Aprobadas", tab_denied: "Negadas", tab_expired: "Vencidas",
      noRequests: "No hay solicitudes aquí.",
      requestWho: "{who} pide ver {what}",
      requestWhy: "Para qué: {why}.", requestPeriod: "Datos del {from} al {until}.", requestAnyPeriod: "Datos de cualquier fecha.",
      requestUntil: "Podría verlos hasta el {until}.", requestUnit: "Unidad que pide: {unit}.",
      requestExpires: "Si no responde, la solicitud vence el {when}.",
      requestApproved: "Aprobó: {what}, hasta el {until}.", requestAnswered: "Respondida el {when}.",
      approveAsked: "Aprobar como se pide", approvePart: "Aprobar solo una parte", denyIt: "Negar",
      partLegend: "Qué datos aprueba", partUntil: "Hasta qué día podrán verlos", approveChecked: "Aprobar lo marcado",
      chooseOne: "Marque al menos un tipo de datos.",
      approvedDone: "Aprobada. {who} podrá ver {what}.", approvedNarrowed: "Aprobada solo en parte. {who} podrá ver {what}.",
      deniedDone: "Negada. {who} no verá sus datos.",
      err_REVOKED: "Su credencial está revocada: su institución ya no la acepta.",
      err_SUSPENDED: "Su credencial está suspendida: su institución no la acepta mientras lo esté.",
      err_CREDENTIAL_EXPIRED: "Su credencial está vencida: pida una nueva en su institución.",
      err_HOLDER_UNKNOWN: "Su institución no reconoce esta credencial.",
      err_REQUEST_EXPIRED: "La solicitud venció sin respuesta.", err_REQUEST_ALREADY_ANSWERED: "Esa solicitud ya se respondió.",
      err_REQUEST_NOT_FOUND: "No se encontró esa solicitud.", err_APPROVAL_WIDER_THAN_REQUEST: "No se puede aprobar más de lo que se pide.",
      grantsIntro: "Los permisos que usted dio. Puede retirar cualquiera cuando quiera: vale desde ese momento.",
      loadGrants: "Ver permisos", noGrants: "No ha dado ningún permiso.",
      grantLine: "{who} puede ver {what} para {why}", grantUntil: "Hasta el {until}.",
      grant_active: "Activo", grant_withdrawn: "Retirado", grant_expired: "Vencido",
      withdraw: "Retirar", withdrawAsk: "¿Retirar este permiso? {who} dejará de ver sus datos desde ahora.",
      withdrawYes: "Sí, retirar", withdrawNo: "No", withdrawnDone: "Permiso retirado.", withdrawnAt: "Retirado el {when}.",
      recordTitle: "Mi expediente", recordIntro: "Lo que su institución guarda de usted. Su consulta queda en el registro como suya.",
      loadRecord: "Ver mi expediente", recordEmpty: "Su institución no tiene registros clínicos suyos.",
      selfRead: "Usted consultó {what}",
      purpose_TREAT: "atención médica", purpose_ETREAT: "atención de urgencia", purpose_COC: "continuidad de la atención",
      purpose_CAREMGT: "gestión de su atención", purpose_PATRQT: "una solicitud suya", purpose_HPAYMT: "comprobar su cobertura",
      purpose_PUBHLTH: "salud pública", purpose_HLEGAL: "un asunto legal", purpose_HRESCH: "investigación",
      class_coverage: "su cobertura", "class_ece.summary": "el resumen de su expediente", "class_ece.full": "su expediente completo",
      ago: "hace {n}",
    },
    en: {
      appName: "My health credential", skip: "Skip to content", sections: "Sections",
      navHome: "My credentials", navReceive: "Receive", navRequests: "Requests", navGrants: "Permissions",
      navLog: "Who read my data", navUnits: "Units", navRecord: "My record", navKey: "My key",
      langSwitch: "Español", offline: "Offline", close: "Close",
      brightness: "Turn the screen brightness up and hold the code to the reader.",
      readAloud: "If the code cannot be read, read aloud:",
      homeTitle: "My credentials",
      empty: "There are no credentials on this phone yet. Your institution gives you a QR code and a PIN to receive yours.",
      receiveNow: "Receive a credential",
      name: "Name", curp: "CURP", institution: "Institution", program: "Program", validity: "Validity",
      affiliation: "Affiliation number", unit: "Unit of adscription", from: "from", until: "to",
      showCard: "Show card", refresh: "Update status", refreshing: "Checking the status…",
      remove: "Remove from this phone", removeAsk: "Remove this credential from the phone? To have it again, ask your institution for a new offer.",
      removeYes: "Yes, remove", removeNo: "No",
      state_VALID: "Valid", state_SUSPENDED: "Suspended", state_REVOKED: "Revoked", state_EXPIRED: "Expired",
      state_NOT_YET_VALID: "Not yet valid", state_UNCHECKED: "Status not checked",
      state_STALE: "Not checked since {when}",
      checked: "Status checked {ago}.", staleHint: "We do not know whether it is still valid: go online and press “Update status”.",
      uncheckedHint: "Go online and press “Update status”.",
      suspendedHint: "Your institution suspended it. Ask your institution why.",
      revokedHint: "Your institution revoked it: it no longer works. Go to your institution.",
      refreshOffline: "Offline: the status could not be checked. The last known one is shown.",
      refreshFailed: "The status could not be checked ({detail}).",
      receiveTitle: "Receive a credential",
      receiveIntro: "Your institution shows you a QR code and tells you a 6-digit PIN. The PIN is never in the code.",
      scan: "Scan the code with the camera", stopScan: "Stop the camera",
      scanHint: "Point the camera at the offer's QR code. It reads by itself.",
      cameraLabel: "Camera image",
      cameraDenied: "The camera could not be used ({detail}). You can paste the offer link.",
      pasteLabel: "Or paste the offer link here", useLink: "Use this link",
      offerFrom: "Offer from {issuer}", pinLabel: "6-digit PIN", pinHint: "The PIN you were given at the enrolment desk.",
      accept: "Receive the credential", cancel: "Cancel",
      step_token: "Checking the PIN…", step_proof: "Signing with this phone's key…",
      step_credential: "Receiving the credential…", step_card: "Preparing the card…",
      received: "Done: your credential is on this phone.",
      err_OFFER_MALFORMED: "That is not a credential offer. Scan the code your institution showed you.",
      err_ISSUER_NOT_TRUSTED: "This offer is not from IMSS, ISSSTE or IMSS-Bienestar: do not accept it.",
      err_OTHER_ISSUER: "This offer is from {issuer}; open it in that institution's wallet (this one is {here}'s).",
      err_OFFLINE: "Offline: this needs the internet. What is already on the phone stays available.",
      err_invalid_grant: "The PIN is wrong or the offer no longer works.",
      err_wrongPin: "The PIN is wrong. {left} attempts left.",
      err_lockedOffer: "This offer no longer works (expired, used or locked after wrong PINs). Ask your institution for a new one.",
      err_NO_ED25519: "This browser cannot create the secure key (Ed25519). Update the browser.",
      err_NO_CRYPTO: "The wallet only works over a secure connection (https).",
      err_credential_request_denied: "Your institution no longer offers this credential (suspended, revoked or expired).",
      err_NOT_IJSON: "The institution sent damaged or ambiguous data; it was not used. Try again later; if it happens again, tell your institution.",
      err_generic: "It could not be completed: {detail}",
      pinInvalid: "Type the 6 digits of the PIN.",
      cardTitle: "Card of {name}", qrLabel: "QR code of {name}'s credential",
      validUntil: "Valid until",
      logTitle: "Who read my data",
      logIntro: "Every time an institution asks for your data it is recorded. To see it, this phone signs a proof that you are the holder.",
      logLoad: "Read the log", loading: "Loading…",
      logEmpty: "Nobody has read your data.", accesses: "Permitted reads", refused: "Refused requests",
      logLine: "{requester} read {what} for {why}", logRefused: "{requester} asked for {what} for {why}; refused",
      underConsent: "with your permission", underOrder: "under a court order", underOwn: "yourself",
      judicial: "Court orders", judicialLine: "{court}, case {case}, of {date}",
      unitsTitle: "Units with places", unitsIntro: "Hospitals and clinics that take your coverage and have places now, nearest first.",
      useLocation: "Use my location to sort by distance", search: "Search units",
      unitsEmpty: "No unit has places for your coverage right now.",
      places: "{n} places", km: "{km} km away", staleUnit: "not up to date", locationDenied: "No location: not sorted by distance.",
      needCredential: "First receive your credential in “Receive”.", choose: "Credential",
      keyTitle: "My key", keyIntro: "This phone made a key that signs for you. Nobody can copy it or take it off the phone, not even this app.",
      keyId: "Your key's identifier (did:key)", keyCreated: "Created on",
      lostTitle: "If you lose or change your phone",
      lostText: "The key is lost with the phone. Go to your institution with an ID: they give you a new offer (QR code and PIN) to receive your credential on the new phone. The lost phone's credential is of no use to anyone else: only that key can present it. Your printed card still works.",
      installTitle: "Offline",
      installText: "After the first visit this wallet opens without the internet: your credentials, the card and the last known status. Checking the status, receiving, and seeing requests, permissions, reads and units need the internet.",
      requestsIntro: "When an institution wants data of yours that another one holds, it asks you. You decide: approve, approve only a part, or deny.",
      loadRequests: "See requests",
      tab_pending: "Pending", tab_approved: "Approved", tab_denied: "Denied", tab_expired: "Expired",
      noRequests: "No requests here.",
      requestWho: "{who} asks to see {what}",
      requestWhy: "What for: {why}.", requestPeriod: "Data from {from} to {until}.", requestAnyPeriod: "Data of any date.",
      requestUntil: "It could see them until {until}.", requestUnit: "Asking unit: {unit}.",
      requestExpires: "Unanswered, the request expires on {when}.",
      requestApproved: "You approved: {what}, until {until}.", requestAnswered: "Answered on {when}.",
      approveAsked: "Approve as asked", approvePart: "Approve only a part", denyIt: "Deny",
      partLegend: "Which data you approve", partUntil: "Until which day they may see them", approveChecked: "Approve what is checked",
      chooseOne: "Check at least one kind of data.",
      approvedDone: "Approved. {who} may see {what}.", approvedNarrowed: "Approved in part. {who} may see {what}.",
      deniedDone: "Denied. {who} will not see your data.",
      err_REVOKED: "Your credential is revoked: your institution no longer accepts it.",
      err_SUSPENDED: "Your credential is suspended: your institution does not accept it meanwhile.",
      err_CREDENTIAL_EXPIRED: "Your credential has expired: ask your institution for a new one.",
      err_HOLDER_UNKNOWN: "Your institution does not recognise this credential.",
      err_REQUEST_EXPIRED: "The request expired unanswered.", err_REQUEST_ALREADY_ANSWERED: "That request was already answered.",
      err_REQUEST_NOT_FOUND: "That request was not found.", err_APPROVAL_WIDER_THAN_REQUEST: "You cannot approve more than is asked.",
      grantsIntro: "The permissions you gave. You can withdraw any of them at any time: it counts from that moment.",
      loadGrants: "See permissions", noGrants: "You have given no permission.",
      grantLine: "{who} may see {what} for {why}", grantUntil: "Until {until}.",
      grant_active: "Active", grant_withdrawn: "Withdrawn", grant_expired: "Expired",
      withdraw: "Withdraw", withdrawAsk: "Withdraw this permission? {who} stops seeing your data from now on.",
      withdrawYes: "Yes, withdraw", withdrawNo: "No", withdrawnDone: "Permission withdrawn.", withdrawnAt: "Withdrawn on {when}.",
      recordTitle: "My record", recordIntro: "What your institution holds about you. Your read is logged as your own.",
      loadRecord: "See my record", recordEmpty: "Your institution holds no clinical records of yours.",
      selfRead: "You read {what}",
      purpose_TREAT: "treatment", purpose_ETREAT: "emergency treatment", purpose_COC: "continuity of care",
      purpose_CAREMGT: "care management", purpose_PATRQT: "your own request", purpose_HPAYMT: "checking your coverage",
      purpose_PUBHLTH: "public health", purpose_HLEGAL: "a legal matter", purpose_HRESCH: "research",
      class_coverage: "your coverage", "class_ece.summary": "your record summary", "class_ece.full": "your full record",
      ago: "{n} ago",
    },
  };
  const INSTITUTION_NAMES = {
    IMSS: "IMSS (Instituto Mexicano del Seguro Social)",
    ISSSTE: "ISSSTE (Instituto de Seguridad y Servicios Sociales de los Trabajadores del Estado)",
    "IMSS-BIENESTAR": "IMSS-Bienestar",
  };

  let lang = localStorage.getItem("wallet-lang") === "en" ? "en" : "es";

  function t(key, values) {
    let text = (TEXT[lang][key] !== undefined ? TEXT[lang][key] : TEXT.es[key]) || key;
    for (const [name, value] of Object.entries(values || {})) text = text.split("{" + name + "}").join(String(value));
    return text.replace(/\.\.(?!\.)/g, "."); /* a value ending in "a.m." before the sentence's own period */
  }

  function locale() {
    return lang === "en" ? "en" : "es-MX";
  }

  function formatDate(iso, withTime) {
    if (!iso) return "";
    const options = withTime ? { dateStyle: "medium", timeStyle: "short" } : { dateStyle: "long" };
    return new Intl.DateTimeFormat(locale(), options).format(new Date(iso));
  }

  function ago(iso) {
    const seconds = Math.round((Date.parse(iso) - W.now()) / 1000);
    const format = new Intl.RelativeTimeFormat(locale(), { numeric: "auto" });
    const abs = Math.abs(seconds);
    if (abs < 60) return format.format(seconds, "second");
    if (abs < 3600) return format.format(Math.round(seconds / 60), "minute");
    if (abs < 172800) return format.format(Math.round(seconds / 3600), "hour");
    return format.format(Math.round(seconds / 86400), "day");
  }

  /* -- DOM helpers (text only: nothing from the network becomes HTML) ------------------------- */
  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "on") for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat(Infinity)) if (child !== null && child !== undefined && child !== false) node.append(child);
    return node;
  }

  function facts(rows) {
    return el("dl", { class: "facts" }, rows.filter((r) => r[1]).map(([name, value]) => [el("dt", { text: name }), el("dd", { text: value })]));
  }

  function errorText(error) {
    if (!(error instanceof W.WalletError)) return t("err_generic", { detail: String(error && error.message || error) });
    if (error.code === "invalid_grant") {
      const left = /\((\d+) left\)/.exec(error.message || "");
      if (left) return t("err_wrongPin", { left: left[1] });
      if (/lock|expired|used|unknown/i.test(error.message || "")) return t("err_lockedOffer");
      return t("err_invalid_grant");
    }
    if (error.code === "OTHER_ISSUER") return t("err_OTHER_ISSUER", { issuer: error.message, here: error.extra.here });
    const key = "err_" + error.code;
    if (TEXT.es[key]) return t(key);
    return t("err_generic", { detail: error.message || error.code });
  }

  function alertBox(error) {
    return el("p", { class: "alert", role: "alert", text: typeof error === "string" ? error : errorText(error) });
  }

  const view = () => document.getElementById("view");

  function render(title, ...children) {
    const main = view();
    main.replaceChildren(el("h2", { id: "view-title", text: title }), ...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
    main.setAttribute("aria-labelledby", "view-title");
  }

  /* -- Mis credenciales ------------------------------------------------------------------- */
  function fullName(subject) {
    return [subject.givenName, subject.familyName, subject.secondFamilyName].filter(Boolean).join(" ");
  }

  function stateLine(entry) {
    const state = W.stateOf(entry);
    const label = state.state === "STALE" ? t("state_STALE", { when: formatDate(state.checkedAt, true) + " (" + ago(state.checkedAt) + ")" }) : t("state_" + state.state);
    const hints = {
      STALE: t("staleHint"), UNCHECKED: t("uncheckedHint"), SUSPENDED: t("suspendedHint"), REVOKED: t("revokedHint"),
      VALID: t("checked", { ago: ago(state.checkedAt || new Date().toISOString()) }),
    };
    return [
      el("p", { class: "state", "data-state": state.state, "data-testid": "state", text: label }),
      hints[state.state] ? el("p", { class: "muted", text: hints[state.state] }) : null,
    ];
  }

  function credentialArticle(entry, index) {
    const subject = entry.credential.credentialSubject || {};
    const coverage = subject.coverage || {};
    const name = fullName(subject);
    const headingId = "cred-" + index;
    const message = el("p", { role: "status", "aria-live": "polite", class: "progress" });
    const refresh = el("button", { type: "button", text: t("refresh"), "aria-describedby": headingId });
    refresh.addEventListener("click", async () => {
      refresh.disabled = true;
      message.textContent = t("refreshing");
      try {
        await W.refreshStatus(entry);
        await go();
      } catch (error) {
        refresh.disabled = false;
        message.textContent = error.code === "OFFLINE" ? t("refreshOffline")
          : error.code === "NOT_IJSON" ? errorText(error) : t("refreshFailed", { detail: error.message });
      }
    });
    const confirm = el("div", { class: "panel", hidden: true, role: "group", "aria-label": t("remove") }, el("p", { text: t("removeAsk") }));
    const remove = el("button", { type: "button", text: t("remove"), "aria-describedby": headingId, "aria-expanded": "false" });
    const yes = el("button", { type: "button", class: "primary", text: t("removeYes") });
    const no = el("button", { type: "button", text: t("removeNo") });
    remove.addEventListener("click", () => { confirm.hidden = false; remove.setAttribute("aria-expanded", "true"); no.focus(); });
    no.addEventListener("click", () => { confirm.hidden = true; remove.setAttribute("aria-expanded", "false"); remove.focus(); });
    yes.addEventListener("click", async () => { await W.deleteCredential(entry.id); await go(); });
    confirm.append(el("div", { class: "actions" }, yes, no));
    return el("article", { class: "credential", "aria-labelledby": headingId },
      el("h3", { id: headingId, text: name }),
      stateLine(entry),
      facts([
        [t("institution"), INSTITUTION_NAMES[coverage.institution] || coverage.institution],
        [t("program"), coverage.program],
        [t("validity"), t("from") + " " + formatDate(entry.credential.validFrom) + " " + t("until") + " " + formatDate(entry.credential.validUntil)],
        [t("curp"), subject.curp],
        [t("affiliation"), coverage.affiliationNumber],
      ]),
      el("div", { class: "actions" },
        el("button", { type: "button", class: "primary", text: t("showCard"), "aria-describedby": headingId, on: { click: () => { location.hash = "#/tarjeta/" + index; } } }),
        refresh, remove),
      confirm,
      message);
  }

  async function home() {
    const entries = await W.credentials();
    if (!entries.length) {
      render(t("homeTitle"), el("p", { text: t("empty") }), el("a", { class: "button primary", href: "#/recibir", text: t("receiveNow") }));
      return;
    }
    entries.sort((a, b) => a.receivedAt.localeCompare(b.receivedAt));
    render(t("homeTitle"), entries.map(credentialArticle));
  }

  async function autoRefresh() {
    if (!navigator.onLine) return;
    const entries = await W.credentials();
    const old = entries.filter((e) => !e.status || W.now() - Date.parse(e.status.checkedAt) > 10 * 60 * 1000);
    if (!old.length) return;
    for (const entry of old) {
      try { await W.refreshStatus(entry); } catch (error) { /* shown as stale / unchecked */ }
    }
    if (route().name === "home") await go();
  }

  /* -- Mostrar tarjeta (full screen) ------------------------------------------------------ */
  let lastFocus = null;
  let wakeLock = null;

  function drawQr(canvas, text) {
    const qr = qrcode(0, "M");
    qr.addData(text, "Alphanumeric");
    qr.make();
    const count = qr.getModuleCount();
    const quiet = 4;
    const scale = Math.max(4, Math.floor(720 / (count + 2 * quiet)));
    const size = (count + 2 * quiet) * scale;
    canvas.width = size;
    canvas.height = size;
    const context = canvas.getContext("2d");
    context.fillStyle = "#fff";
    context.fillRect(0, 0, size, size);
    context.fillStyle = "#000";
    for (let row = 0; row < count; row++) {
      for (let col = 0; col < count; col++) {
        if (qr.isDark(row, col)) context.fillRect((col + quiet) * scale, (row + quiet) * scale, scale, scale);
      }
    }
  }

  function spaced(text, group) {
    return (text || "").replace(new RegExp("(.{" + group + "})", "g"), "$1 ").trim();
  }

  async function showCard(index) {
    const entries = (await W.credentials()).sort((a, b) => a.receivedAt.localeCompare(b.receivedAt));
    const entry = entries[index];
    if (!entry) { location.hash = "#/"; return; }
    const subject = entry.credential.credentialSubject || {};
    const coverage = subject.coverage || {};
    const name = fullName(subject);
    const screen = document.getElementById("card-screen");
    document.getElementById("card-title").textContent = t("cardTitle", { name });
    const canvas = document.getElementById("card-qr");
    canvas.setAttribute("aria-label", t("qrLabel", { name }));
    canvas.dataset.card = entry.card;
    drawQr(canvas, entry.card);
    document.getElementById("card-text").replaceChildren(...[
      [t("name"), name], [t("curp"), spaced(subject.curp, 4)], [t("institution"), coverage.institution],
      [t("affiliation"), spaced(coverage.affiliationNumber, 4)], [t("validUntil"), formatDate(entry.credential.validUntil)],
    ].flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v || "" })]));
    lastFocus = document.activeElement;
    setBehindInert(true);
    screen.hidden = false;
    screen.scrollTop = 0;
    document.getElementById("card-close").focus({ preventScroll: true });
    try { if (navigator.wakeLock) wakeLock = await navigator.wakeLock.request("screen"); } catch (error) { wakeLock = null; }
  }

  /* A modal card: nothing behind it can take the focus or be read while it is open. */
  function setBehindInert(inert) {
    for (const node of document.querySelectorAll(".skip, .top, .tabs, #view")) node.inert = inert;
  }

  function hideCard() {
    const screen = document.getElementById("card-screen");
    if (screen.hidden) return;
    screen.hidden = true;
    setBehindInert(false);
    if (wakeLock) { wakeLock.release().catch(() => {}); wakeLock = null; }
    if (location.hash.startsWith("#/tarjeta")) location.replace("#/");
    if (lastFocus && lastFocus.focus) lastFocus.focus();
  }

  /* -- Recibir ----------------------------------------------------------------------------- */
  let camera = null;

  function stopCamera() {
    if (!camera) return;
    camera.stop = true;
    for (const track of camera.stream.getTracks()) track.stop();
    camera = null;
  }

  async function startCamera(onText, video, message) {
    stopCamera();
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (error) {
      message.replaceChildren(alertBox(t("cameraDenied", { detail: error.name || error })));
      return false;
    }
    const session = { stream, stop: false };
    camera = session;
    video.srcObject = stream;
    video.hidden = false;
    await video.play().catch(() => {});
    const canvas = document.createElement("canvas");
    const context = canvas.getContext("2d", { willReadFrequently: true });
    const tick = () => {
      if (session.stop) return;
      if (video.readyState >= 2 && video.videoWidth) {
        const scale = Math.min(1, 960 / video.videoWidth);
        canvas.width = Math.round(video.videoWidth * scale);
        canvas.height = Math.round(video.videoHeight * scale);
        context.drawImage(video, 0, 0, canvas.width, canvas.height);
        const image = context.getImageData(0, 0, canvas.width, canvas.height);
        const found = jsQR(image.data, image.width, image.height, { inversionAttempts: "attemptBoth" });
        if (found && found.data) {
          stopCamera();
          video.hidden = true;
          onText(found.data);
          return;
        }
      }
      setTimeout(tick, 150);
    };
    tick();
    return true;
  }

  function receive(initialOffer) {
    const message = el("div", { "aria-live": "polite" });
    const video = el("video", { class: "video", muted: true, playsinline: true, hidden: true, "aria-label": t("cameraLabel") });
    const offerArea = el("div");
    const scanButton = el("button", { type: "button", class: "primary", text: t("scan") });
    const linkInput = el("input", { id: "offer-link", type: "text", autocomplete: "off", spellcheck: "false", inputmode: "url" });

    function useOffer(text) {
      message.replaceChildren();
      const asked = /^https:\/\/[^/]+\/r\/(CR-[A-Z2-7]{16})$/.exec(String(text || "").trim());
      if (asked) { /* a consent request's QR on a hospital screen */
        sessionStorage.setItem("wallet-request", asked[1]);
        location.hash = "#/solicitudes";
        return;
      }
      let offer;
      try {
        offer = W.parseOffer(text);
      } catch (error) {
        message.replaceChildren(alertBox(error));
        return;
      }
      W.issuerMetadata().then((metadata) => { /* another institution's offer: say so before the PIN */
        if (metadata.credential_issuer !== offer.issuer) {
          offerArea.replaceChildren();
          message.replaceChildren(alertBox(new W.WalletError("OTHER_ISSUER", offer.issuer, { here: metadata.credential_issuer })));
        }
      }, () => { /* offline: receive() says so */ });
      const pin = el("input", { id: "pin", class: "pin", type: "password", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "6", pattern: "[0-9]{6}", "aria-describedby": "pin-hint" });
      const accept = el("button", { type: "submit", class: "primary", text: t("accept") });
      const progress = el("p", { class: "progress", role: "status", "aria-live": "polite" });
      const form = el("form", { class: "panel", "aria-labelledby": "offer-title" },
        el("h3", { id: "offer-title", text: t("offerFrom", { issuer: offer.issuer.replace("https://", "") }) }),
        offer.txCode ? [el("label", { for: "pin", text: t("pinLabel") }), pin, el("p", { id: "pin-hint", class: "muted", text: t("pinHint") })] : null,
        el("div", { class: "actions" }, accept, el("button", { type: "button", text: t("cancel"), on: { click: () => { offerArea.replaceChildren(); scanButton.focus(); } } })),
        progress);
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        if (offer.txCode && !/^[0-9]{6}$/.test(pin.value)) {
          progress.replaceChildren(alertBox(t("pinInvalid")));
          pin.focus();
          return;
        }
        accept.disabled = true;
        try {
          await W.receive(offer, pin.value, (step) => { progress.textContent = t("step_" + step); });
          progress.textContent = t("received");
          history.replaceState(null, "", location.pathname + "#/");
          await go();
          const status = el("p", { class: "note", role: "status", text: t("received") });
          view().insertBefore(status, view().children[1] || null);
        } catch (error) {
          accept.disabled = false;
          progress.replaceChildren(alertBox(error));
          pin.value = "";
          if (offer.txCode) pin.focus();
        }
      });
      offerArea.replaceChildren(form);
      if (offer.txCode) pin.focus(); else accept.focus();
    }

    scanButton.addEventListener("click", async () => {
      if (camera) {
        stopCamera();
        video.hidden = true;
        scanButton.textContent = t("scan");
        return;
      }
      message.replaceChildren(el("p", { class: "muted", text: t("scanHint") }));
      if (await startCamera((text) => { scanButton.textContent = t("scan"); useOffer(text); }, video, message)) {
        scanButton.textContent = t("stopScan");
      }
    });
    render(t("receiveTitle"),
      el("p", { text: t("receiveIntro") }),
      el("div", { class: "actions" }, scanButton),
      video,
      el("form", { class: "link-form", on: { submit: (event) => { event.preventDefault(); stopCamera(); video.hidden = true; useOffer(linkInput.value); } } },
        el("label", { for: "offer-link", text: t("pasteLabel") }), linkInput,
        el("div", { class: "actions" }, el("button", { type: "submit", text: t("useLink") }))),
      message, offerArea);
    if (initialOffer) useOffer(initialOffer);
  }

  /* -- screens that need a presentation ---------------------------------------------------------- */
  async function chooser() {
    const entries = (await W.credentials()).sort((a, b) => a.receivedAt.localeCompare(b.receivedAt));
    if (!entries.length) return { entries, control: el("p", { class: "note", text: t("needCredential") }) };
    const select = el("select", { id: "which" }, entries.map((entry, index) => {
      const coverage = (entry.credential.credentialSubject || {}).coverage || {};
      return el("option", { value: String(index), text: coverage.institution + " · " + fullName(entry.credential.credentialSubject || {}) });
    }));
    const control = entries.length > 1 ? el("div", {}, el("label", { for: "which", text: t("choose") }), select) : null;
    return { entries, control, current: () => entries[Number(select.value) || 0] };
  }

  function words(kind, value) {
    const key = kind + "_" + value;
    return TEXT.es[key] ? t(key) : value || "—";
  }

  function classList(classes) {
    const names = (classes || []).map((c) => words("class", c));
    if (names.length < 2) return names.join("");
    return names.slice(0, -1).join(", ") + (lang === "en" ? " and " : " y ") + names[names.length - 1];
  }

  function who(code, unit) {
    return (INSTITUTION_NAMES[code] ? code : code || "—") + (unit ? " (" + unit + ")" : "");
  }

  /* A "load" button and a results area: a fresh presentation each time (challenges are single use). */
  async function loader(titleKey, introKey, buttonKey, load) {
    const { entries, control, current } = await chooser();
    const results = el("div", { "aria-live": "polite" });
    const button = el("button", { type: "button", class: "primary", text: t(buttonKey), disabled: !entries.length });
    const run = async () => {
      button.disabled = true;
      results.replaceChildren(el("p", { class: "progress", role: "status", text: t("loading") }));
      try {
        results.replaceChildren(...[await load(current(), run)].flat(Infinity).filter(Boolean));
      } catch (error) {
        results.replaceChildren(alertBox(error));
      }
      button.disabled = false;
    };
    button.addEventListener("click", run);
    render(t(titleKey), el("p", { text: t(introKey) }), control, el("div", { class: "actions" }, button), results);
    if (entries.length) run(); /* offline, it says so in the results */
    return run;
  }

  function requestItem(entry, request, refresh) {
    const lines = [
      el("h3", { text: t("requestWho", { who: who(request.requester), what: classList(request.dataClasses) }) }),
      request.requesterName ? el("p", { class: "muted", text: request.requesterName }) : null,
      el("p", { text: t("requestWhy", { why: words("purpose", request.purpose) }) }),
      el("p", { text: request.dataFrom || request.dataUntil ? t("requestPeriod", { from: request.dataFrom ? formatDate(request.dataFrom) : "—", until: request.dataUntil ? formatDate(request.dataUntil) : "—" }) : t("requestAnyPeriod") }),
      el("p", { text: t("requestUntil", { until: formatDate(request.accessUntil, true) }) }),
      request.requesterUnit ? el("p", { text: t("requestUnit", { unit: request.requesterUnit }) }) : null,
    ];
    const message = el("div", { "aria-live": "polite" });
    const item = el("li", { class: "item", "data-request": request.id, tabindex: "-1" }, lines);
    if (request.state === "pending") {
      item.append(el("p", { class: "muted", text: t("requestExpires", { when: formatDate(request.expiresAt, true) }) }));
      const part = el("form", { class: "panel", hidden: true });
      const boxes = request.dataClasses.map((c, i) => {
        const id = "part-" + request.id + "-" + i;
        return { c, box: el("input", { type: "checkbox", id, checked: true }), id };
      });
      const untilId = "until-" + request.id;
      const until = el("input", { type: "date", id: untilId, max: request.accessUntil.slice(0, 10), min: new Date().toISOString().slice(0, 10), value: request.accessUntil.slice(0, 10) });
      part.append(
        el("fieldset", {}, el("legend", { text: t("partLegend") }), boxes.map(({ c, box, id }) => el("label", { class: "check", for: id }, box, words("class", c)))),
        el("label", { for: untilId, text: t("partUntil") }), until,
        el("div", { class: "actions" }, el("button", { type: "submit", class: "primary", text: t("approveChecked") })));
      const act = async (work) => {
        for (const b of item.querySelectorAll("button")) b.disabled = true;
        try {
          message.replaceChildren(el("p", { class: "note", role: "status", text: await work() }));
          setTimeout(refresh, 1500);
        } catch (error) {
          message.replaceChildren(alertBox(error));
          for (const b of item.querySelectorAll("button")) b.disabled = false;
        }
      };
      part.addEventListener("submit", (event) => {
        event.preventDefault();
        const chosen = boxes.filter(({ box }) => box.checked).map(({ c }) => c);
        if (!chosen.length) { message.replaceChildren(alertBox(t("chooseOne"))); return; }
        let end = request.accessUntil;
        if (until.value && until.value < request.accessUntil.slice(0, 10)) end = until.value + "T23:59:59Z";
        act(async () => {
          const answer = await W.approve(entry, request, chosen, end);
          return t(answer.narrowed ? "approvedNarrowed" : "approvedDone", { who: request.requester, what: classList(chosen) });
        });
      });
      item.append(el("div", { class: "actions" },
        el("button", { type: "button", class: "primary", text: t("approveAsked"), on: { click: () => act(async () => { await W.approve(entry, request); return t("approvedDone", { who: request.requester, what: classList(request.dataClasses) }); }) } }),
        el("button", { type: "button", text: t("approvePart"), "aria-expanded": "false", on: { click: (event) => { part.hidden = !part.hidden; event.currentTarget.setAttribute("aria-expanded", String(!part.hidden)); if (!part.hidden) boxes[0].box.focus(); } } }),
        el("button", { type: "button", text: t("denyIt"), on: { click: () => act(async () => { await W.deny(entry, request); return t("deniedDone", { who: request.requester }); }) } })),
        part);
    } else if (request.approved) {
      item.append(el("p", { class: "muted", text: t("requestApproved", { what: classList(request.approved.dataClasses), until: formatDate(request.approved.accessUntil, true) }) }));
    } else if (request.answeredAt) {
      item.append(el("p", { class: "muted", text: t("requestAnswered", { when: formatDate(request.answeredAt, true) }) }));
    }
    item.append(message);
    return item;
  }

  async function requestsScreen() {
    let tab = "pending";
    await loader("navRequests", "requestsIntro", "loadRequests", async function show(entry, again) {
      const listed = await W.consentRequests(entry);
      const groups = { pending: [], approved: [], denied: [], expired: [] };
      for (const request of listed.requests) (groups[request.state === "withdrawn" ? "approved" : request.state] || groups.expired).push(request);
      const tabs = el("div", { class: "actions", role: "group", "aria-label": t("navRequests") }, Object.keys(groups).map((name) =>
        el("button", { type: "button", "aria-pressed": String(name === tab), "data-tab": name, text: t("tab_" + name) + " (" + groups[name].length + ")",
          on: { click: () => { tab = name; again(); } } })));
      const wanted = sessionStorage.getItem("wallet-request");
      if (wanted) {
        sessionStorage.removeItem("wallet-request");
        const found = listed.requests.find((r) => r.id === wanted);
        if (found) {
          tab = found.state === "withdrawn" ? "approved" : found.state in groups ? found.state : "expired";
          setTimeout(() => {
            const node = document.querySelector('li[data-request="' + CSS.escape(wanted) + '"]');
            if (node) node.focus();
          }, 0);
        }
      }
      const list = groups[tab].length
        ? el("ul", { class: "plain", "data-testid": "requests" }, groups[tab].map((r) => requestItem(entry, r, again)))
        : el("p", { text: t("noRequests") });
      return [tabs, list];
    });
  }

  async function grantsScreen() {
    await loader("navGrants", "grantsIntro", "loadGrants", async (entry, again) => {
      const listed = await W.consentGrants(entry);
      if (!listed.grants.length) return el("p", { text: t("noGrants") });
      const order = { active: 0, expired: 1, withdrawn: 2 };
      const grants = listed.grants.slice().sort((a, b) => order[a.state] - order[b.state]);
      return el("ul", { class: "plain", "data-testid": "grants" }, grants.map((grant) => {
        const grantee = grant.grantees[0] || {};
        const message = el("div", { "aria-live": "polite" });
        const item = el("li", { class: "item", "data-grant": grant.grantId },
          el("h3", { text: t("grantLine", { who: who(grantee.institution, grantee.unit), what: classList(grant.dataClasses), why: grant.purposes.map((p) => words("purpose", p)).join(", ") }) }),
          el("p", { class: "state", "data-state": grant.state === "active" ? "VALID" : "EXPIRED", text: t("grant_" + grant.state) }),
          el("p", { class: "muted", text: grant.withdrawnAt ? t("withdrawnAt", { when: formatDate(grant.withdrawnAt, true) }) : t("grantUntil", { until: formatDate(grant.validUntil, true) }) }));
        if (grant.state === "active") {
          const confirm = el("div", { class: "panel", hidden: true, role: "group", "aria-label": t("withdraw") },
            el("p", { text: t("withdrawAsk", { who: grantee.institution }) }));
          const yes = el("button", { type: "button", class: "primary", text: t("withdrawYes") });
          const no = el("button", { type: "button", text: t("withdrawNo") });
          const open = el("button", { type: "button", text: t("withdraw"), "aria-expanded": "false" });
          open.addEventListener("click", () => { confirm.hidden = false; open.setAttribute("aria-expanded", "true"); yes.focus(); });
          no.addEventListener("click", () => { confirm.hidden = true; open.setAttribute("aria-expanded", "false"); open.focus(); });
          yes.addEventListener("click", async () => {
            yes.disabled = true;
            try {
              await W.withdraw(entry, grant.grantId);
              message.replaceChildren(el("p", { class: "note", role: "status", text: t("withdrawnDone") }));
              setTimeout(again, 1500);
            } catch (error) {
              yes.disabled = false;
              message.replaceChildren(alertBox(error));
            }
          });
          confirm.append(el("div", { class: "actions" }, yes, no));
          item.append(el("div", { class: "actions" }, open), confirm);
        }
        item.append(message);
        return item;
      }));
    });
  }

  function resourceSummary(resource) {
    const code = resource.code || resource.vaccineCode || resource.medicationCodeableConcept || {};
    const coding = (code.coding || [])[0] || {};
    const text = code.text || coding.display || resource.resourceType;
    const when = resource.effectiveDateTime || resource.recordedDate || resource.onsetDateTime || resource.occurrenceDateTime || resource.authoredOn || resource.date
      || (resource.period || {}).start || (resource.effectivePeriod || {}).start;
    return { text, when, kind: resource.resourceType };
  }

  async function recordScreen() {
    await loader("recordTitle", "recordIntro", "loadRecord", async (entry) => {
      const own = await W.record(entry);
      const entries = (own.bundle && own.bundle.entry) || [];
      if (!entries.length) return el("p", { text: t("recordEmpty") });
      return el("ul", { class: "plain", "data-testid": "record" }, entries.map(({ resource }) => {
        const summary = resourceSummary(resource || {});
        return el("li", { class: "item" }, el("h3", { text: summary.text }),
          el("p", { class: "muted", text: [summary.kind, summary.when ? formatDate(summary.when) : null].filter(Boolean).join(" · ") }));
      }));
    });
  }

  async function accessLog() {
    const { entries, control, current } = await chooser();
    const results = el("div", { "aria-live": "polite" });
    const load = el("button", { type: "button", class: "primary", text: t("logLoad"), disabled: !entries.length });
    load.addEventListener("click", async () => {
      load.disabled = true;
      results.replaceChildren(el("p", { class: "progress", role: "status", text: t("loading") }));
      try {
        const log = await W.accessLog(current());
        const line = (item, refused) => {
          const requester = (item.requester || "—") + (item.requesterUnit ? " (" + item.requesterUnit + ")" : "");
          const basis = item.grantKind === "judicial-order" ? t("underOrder") : item.grantKind ? t("underConsent") : "";
          const text = item.self ? t("selfRead", { what: words("class", item.dataClass) })
            : t(refused ? "logRefused" : "logLine", { requester, what: words("class", item.dataClass), why: words("purpose", item.purpose) });
          return el("li", { class: "item" }, el("p", { text: text + (basis && !refused ? " " + basis : "") + "." }), el("p", { class: "muted", text: formatDate(item.at, true) }));
        };
        const parts = [];
        if (!log.accesses.length && !log.refused.length) parts.push(el("p", { text: t("logEmpty") }));
        if (log.accesses.length) parts.push(el("h3", { text: t("accesses") }), el("ul", { class: "plain", "data-testid": "accesses" }, log.accesses.slice().reverse().map((i) => line(i, false))));
        if (log.refused.length) parts.push(el("h3", { text: t("refused") }), el("ul", { class: "plain", "data-testid": "refused" }, log.refused.slice().reverse().map((i) => line(i, true))));
        if ((log.judicialOrders || []).length) {
          parts.push(el("h3", { text: t("judicial") }), el("ul", { class: "plain" }, log.judicialOrders.map((o) => el("li", { class: "item", text: t("judicialLine", { court: o.court, case: o.caseReference, date: o.orderDate }) }))));
        }
        results.replaceChildren(...parts);
      } catch (error) {
        results.replaceChildren(alertBox(error));
      }
      load.disabled = false;
    });
    render(t("logTitle"), el("p", { text: t("logIntro") }), control, el("div", { class: "actions" }, load), results);
  }

  function position() {
    return new Promise((resolve) => {
      if (!navigator.geolocation) { resolve(null); return; }
      navigator.geolocation.getCurrentPosition(
        (where) => resolve({ lat: where.coords.latitude, lon: where.coords.longitude }),
        () => resolve(null), { timeout: 10000, maximumAge: 300000 });
    });
  }

  async function unitsScreen() {
    const { entries, control, current } = await chooser();
    const results = el("div", { "aria-live": "polite" });
    const near = el("input", { id: "near", type: "checkbox", checked: true });
    const search = el("button", { type: "button", class: "primary", text: t("search"), disabled: !entries.length });
    search.addEventListener("click", async () => {
      search.disabled = true;
      results.replaceChildren(el("p", { class: "progress", role: "status", text: t("loading") }));
      try {
        const where = near.checked ? await position() : null;
        const answer = await W.units(current(), where);
        const parts = [];
        if (near.checked && !where) parts.push(el("p", { class: "muted", text: t("locationDenied") }));
        if (!answer.units.length) parts.push(el("p", { text: t("unitsEmpty") }));
        parts.push(el("ul", { class: "plain", "data-testid": "units" }, answer.units.map((unit) => el("li", { class: "item" },
          el("h3", { text: unit.name }),
          el("p", { text: [t("places", { n: unit.available }), unit.distanceKm !== undefined ? t("km", { km: unit.distanceKm.toLocaleString(locale()) }) : null, unit.institution, unit.clues].filter(Boolean).join(" · ") }),
          unit.services && unit.services.length ? el("p", { class: "muted", text: unit.services.join(", ") }) : null,
          unit.stale ? el("p", { class: "muted", text: t("staleUnit") }) : null))));
        results.replaceChildren(...parts);
      } catch (error) {
        results.replaceChildren(alertBox(error));
      }
      search.disabled = false;
    });
    render(t("unitsTitle"), el("p", { text: t("unitsIntro") }), control,
      el("label", { class: "check", for: "near" }, near, t("useLocation")),
      el("div", { class: "actions" }, search), results);
  }

  async function keyScreen() {
    const parts = [el("p", { text: t("keyIntro") })];
    try {
      const key = await W.holderKey();
      parts.push(facts([[t("keyId"), key.did], [t("keyCreated"), formatDate(key.createdAt, true)]]));
    } catch (error) {
      parts.push(alertBox(error));
    }
    parts.push(el("h3", { text: t("lostTitle") }), el("p", { text: t("lostText") }),
      el("h3", { text: t("installTitle") }), el("p", { text: t("installText") }));
    render(t("keyTitle"), ...parts);
  }

  /* -- routing, language, connection --------------------------------------------------------- */
  const ROUTES = {
    home: { hash: "#/", show: home },
    receive: { hash: "#/recibir", show: () => receive(null) },
    requests: { hash: "#/solicitudes", show: requestsScreen },
    grants: { hash: "#/permisos", show: grantsScreen },
    log: { hash: "#/accesos", show: accessLog },
    units: { hash: "#/unidades", show: unitsScreen },
    record: { hash: "#/expediente", show: recordScreen },
    key: { hash: "#/llave", show: keyScreen },
  };

  function route() {
    const hash = location.hash || "#/";
    const card = /^#\/tarjeta\/(\d+)$/.exec(hash);
    if (card) return { name: "card", show: async () => { if (!view().childElementCount) await home(); await showCard(Number(card[1])); } };
    for (const [name, entry] of Object.entries(ROUTES)) if (entry.hash === hash) return { name, show: entry.show };
    return { name: "home", show: home };
  }

  /* One screen at a time: a slow screen (IndexedDB, network) never paints over a newer one. */
  let navigation = Promise.resolve();

  function go() {
    navigation = navigation.then(show, show);
    return navigation;
  }

  async function show() {
    stopCamera();
    const current = route();
    if (current.name !== "card" && !document.getElementById("card-screen").hidden) {
      document.getElementById("card-screen").hidden = true;
      setBehindInert(false);
    }
    for (const link of document.querySelectorAll(".tabs a")) {
      if (link.dataset.route === current.name) {
        link.setAttribute("aria-current", "page");
        link.scrollIntoView({ block: "nearest", inline: "center" });
      }
      else link.removeAttribute("aria-current");
    }
    await current.show();
    if (current.name !== "card") view().focus({ preventScroll: true });
  }

  function applyLanguage() {
    document.documentElement.lang = lang === "en" ? "en" : "es";
    document.title = t("appName");
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const node of document.querySelectorAll("[data-i18n-label]")) node.setAttribute("aria-label", t(node.dataset.i18nLabel));
    const button = document.getElementById("lang");
    button.textContent = t("langSwitch");
    button.setAttribute("lang", lang === "en" ? "es" : "en");
    showConnection();
  }

  function showConnection() {
    const badge = document.getElementById("net");
    badge.hidden = navigator.onLine;
    badge.textContent = t("offline");
  }

  async function start() {
    applyLanguage();
    document.getElementById("lang").addEventListener("click", async () => {
      lang = lang === "en" ? "es" : "en";
      localStorage.setItem("wallet-lang", lang);
      applyLanguage();
      await go();
    });
    document.getElementById("card-close").addEventListener("click", hideCard);
    document.querySelector(".skip").addEventListener("click", (event) => { event.preventDefault(); view().focus(); });
    document.addEventListener("keydown", (event) => {
      const screen = document.getElementById("card-screen");
      if (screen.hidden) return;
      if (event.key === "Escape") hideCard();
      if (event.key === "Tab") { /* keep the focus inside the card screen */
        const focusable = [...screen.querySelectorAll("button, a[href], [tabindex='0']")];
        const at = focusable.indexOf(document.activeElement);
        const next = (at + (event.shiftKey ? -1 : 1) + focusable.length) % focusable.length;
        event.preventDefault();
        focusable[Math.max(0, next)].focus();
      }
    });
    window.addEventListener("online", () => { showConnection(); autoRefresh(); });
    window.addEventListener("offline", showConnection);
    window.addEventListener("hashchange", go);
    const params = new URLSearchParams(location.search);
    const offer = params.get("credential_offer");
    const asked = params.get("request"); /* a consent request's QR link, /r/<id>, opened by the camera app */
    if (offer) {
      history.replaceState(null, "", location.pathname + "#/recibir");
      receive("?credential_offer=" + encodeURIComponent(offer));
    } else if (asked && /^CR-[A-Z2-7]{16}$/.test(asked)) {
      sessionStorage.setItem("wallet-request", asked);
      history.replaceState(null, "", location.pathname + "#/solicitudes");
      await go();
    } else {
      await go();
    }
    if ("serviceWorker" in navigator) navigator.serviceWorker.register("/wallet/sw.js", { scope: "/wallet/" }).catch(() => {});
    /* The key and the credentials must survive the browser's clean-ups under storage pressure. */
    if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(() => {});
    /* Make the key on the first visit, not in the middle of an offer; say so if it cannot be. */
    W.holderKey().catch((error) => {
      document.querySelector(".top").after(el("p", { class: "alert", role: "alert", text: errorText(error) }));
    });
    autoRefresh();
    document.body.dataset.ready = "1";
  }

  start();
})();

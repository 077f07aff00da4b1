/* credencial phone wallet: the parts that are not screens.
 *
 * The holder key (WebCrypto Ed25519, non-extractable, kept in IndexedDB) and its did:key;
 * OpenID4VCI pre-authorized code flow with a PIN and a key proof JWT signed on the phone;
 * the credentials' state from the institution's Bitstring Status Lists; holder presentations
 * signed with eddsa-jcs-2022 (RFC 8785 JSON canonicalization; ADR 0011).
 *
 * The wallet talks to the origin that serves it and to nothing else (CSP default-src 'self'):
 * URLs under the institution's Credential Issuer Identifier (https://imss.gob.mx/...) are
 * fetched at this origin, which is that institution's deployment.
 */
"use strict";

const WalletCore = (() => {
  const V2 = "https://www.w3.org/ns/credentials/v2";
  const CONFIGURATION_ID = "HealthCoverageCredential";
  const PRE_AUTHORIZED = "urn:ietf:params:oauth:grant-type:pre-authorized_code";
  /* wallet_spec/issuance.md: the only Credential Issuers a wallet accepts offers from. */
  const TRUSTED_ISSUERS = ["https://imss.gob.mx", "https://issste.gob.mx", "https://imssbienestar.gob.mx"];
  const DB_NAME = "credencial-wallet";

  class WalletError extends Error {
    constructor(code, detail, extra) {
      super(detail || code);
      this.code = code;
      this.extra = extra || {};
    }
  }

  /* -- bytes ---------------------------------------------------------------------------- */
  const B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

  function b58encode(bytes) {
    let zeros = 0;
    while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
    const digits = [];
    for (let k = zeros; k < bytes.length; k++) {
      let carry = bytes[k];
      for (let i = 0; i < digits.length; i++) {
        carry += digits[i] << 8;
        digits[i] = carry % 58;
        carry = (carry / 58) | 0;
      }
      while (carry) {
        digits.push(carry % 58);
        carry = (carry / 58) | 0;
      }
    }
    return "1".repeat(zeros) + digits.reverse().map((d) => B58[d]).join("");
  }

  function b64url(bytes) {
    let text = "";
    for (const byte of bytes) text += String.fromCharCode(byte);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function b64urlDecode(text) {
    const plain = text.replace(/-/g, "+").replace(/_/g, "/");
    const raw = atob(plain + "=".repeat((4 - (plain.length % 4)) % 4));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  }

  const utf8 = (text) => new TextEncoder().encode(text);

  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }

  /* RFC 8785: ECMAScript's own number and string serialisation, keys in UTF-16 order. */
  function jcs(value) {
    if (value === null || typeof value === "boolean" || typeof value === "string") {
      return JSON.stringify(value);
    }
    if (typeof value === "number") {
      if (!Number.isFinite(value)) throw new WalletError("NOT_JSON", "NaN/Infinity");
      return JSON.stringify(value);
    }
    if (Array.isArray(value)) return "[" + value.map(jcs).join(",") + "]";
    if (typeof value === "object") {
      const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
      return "{" + keys.map((k) => JSON.stringify(k) + ":" + jcs(value[k])).join(",") + "}";
    }
    throw new WalletError("NOT_JSON", typeof value);
  }

  /* -- I-JSON (RFC 7493): the one reader of JSON from outside ------------------------------- *
   * JSON.parse keeps the last of two equal member names, so {"givenName": "Mallory",
   * "givenName": "Ana"} would read differently here than in a parser that keeps the first,
   * while the signature covers both. As verifier/_json.py (the same rules, the same `kind`s),
   * parseIJson refuses with WalletError NOT_IJSON: a member name repeated in one object (after
   * unescaping), a lone surrogate (escaped or not), NaN/Infinity, an integer beyond
   * ±(2^53 − 1), a number a double does not hold exactly as written (1e400, 1e-400, 0.1000…01),
   * invalid UTF-8, a byte-order mark, nesting deeper than 64, and anything not RFC 8259 JSON.
   * The scanner only decides; JSON.parse then builds the value, which I-JSON makes unambiguous. */
  const MAX_DEPTH = 64;
  const STRING_RUN = /[^"\\\u0000-\u001f\ud800-\udfff]*/y;
  const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?/y;
  const HEX4 = /^[0-9a-fA-F]{4}$/;
  const ESCAPES = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

  /* A decimal's exact value as text: "0", or sign + digits (no zero at either end) + "e" + exponent. */
  function exactDecimal(text) {
    const [, sign, whole, fraction = "", exponent = "0"] = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([-+]?\d+))?$/.exec(text);
    let digits = (whole + fraction).replace(/^0+/, "");
    if (!digits) return "0";
    const trailing = digits.length - digits.replace(/0+$/, "").length;
    digits = digits.slice(0, digits.length - trailing);
    return sign + digits + "e" + (Number(exponent) - fraction.length + trailing);
  }

  function parseIJson(input) {
    const fail = (kind, detail) => {
      throw new WalletError("NOT_IJSON", "not I-JSON: " + detail, { kind });
    };
    let text = input;
    if (typeof input !== "string") {
      try {
        text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(input);
      } catch (error) {
        fail("encoding", "not valid Unicode text (UTF-8)");
      }
    }
    if (text.charCodeAt(0) === 0xfeff) fail("encoding", "JSON text must not start with a byte-order mark");
    let at = 0;
    const where = (position = at) => " (character " + (position + 1) + ")";
    const space = () => {
      while (at < text.length && " \t\n\r".includes(text[at])) at++;
    };
    const unit = (from) => {
      const hex = text.slice(from, from + 4);
      if (!HEX4.test(hex)) fail("syntax", "a bad \\u escape" + where());
      return parseInt(hex, 16);
    };
    const isLow = (code) => code >= 0xdc00 && code <= 0xdfff;

    function string() { /* at the opening quote; returns the decoded text */
      let out = "";
      at++;
      for (;;) {
        STRING_RUN.lastIndex = at;
        STRING_RUN.exec(text);
        out += text.slice(at, STRING_RUN.lastIndex);
        at = STRING_RUN.lastIndex;
        if (at >= text.length) fail("syntax", "a string is not closed" + where());
        const code = text.charCodeAt(at);
        if (code === 0x22) {
          at++;
          return out;
        }
        if (code < 0x20) fail("syntax", "a control character in a string" + where());
        if (code === 0x5c) {
          const escape = text[at + 1];
          if (escape === "u") {
            const start = at;
            const first = unit(at + 2);
            at += 6;
            if (first >= 0xd800 && first <= 0xdbff) {
              const second = text.startsWith("\\u", at) ? unit(at + 2) : -1;
              if (!isLow(second)) fail("surrogate", "a lone surrogate escape" + where(start));
              out += String.fromCharCode(first, second);
              at += 6;
            } else if (isLow(first)) {
              fail("surrogate", "a lone surrogate escape" + where(start));
            } else {
              out += String.fromCharCode(first);
            }
          } else if (Object.hasOwn(ESCAPES, escape)) {
            out += ESCAPES[escape];
            at += 2;
          } else {
            fail("syntax", "a bad escape" + where());
          }
        } else if (code <= 0xdbff && isLow(text.charCodeAt(at + 1))) { /* a pair: one character */
          out += text.slice(at, at + 2);
          at += 2;
        } else {
          fail("surrogate", "a lone surrogate" + where());
        }
      }
    }

    function number() {
      NUMBER.lastIndex = at;
      const match = NUMBER.exec(text);
      if (!match) fail("syntax", "not a JSON value" + where());
      const written = match[0];
      const value = Number(written);
      at = NUMBER.lastIndex;
      if (match[1] === undefined && match[2] === undefined) {
        if (Math.abs(value) > Number.MAX_SAFE_INTEGER) {
          fail("number", "the integer " + written.slice(0, 40) + " is beyond ±(2^53 − 1)");
        }
      } else if (!Number.isFinite(value) || exactDecimal(written) !== exactDecimal(String(value))) {
        fail("number", "the number " + written.slice(0, 40) + " is beyond the range or precision of a double");
      }
    }

    function value(depth) {
      space();
      const char = text[at];
      if (char === "{" || char === "[") {
        if (depth >= MAX_DEPTH) fail("depth", "JSON nested deeper than " + MAX_DEPTH + " levels");
        const close = char === "{" ? "}" : "]";
        const names = new Set();
        at++;
        space();
        if (text[at] === close) {
          at++;
          return;
        }
        for (;;) {
          if (close === "}") {
            space();
            if (text[at] !== '"') fail("syntax", "a member name was expected" + where());
            const name = string();
            if (names.has(name)) fail("duplicate-key", "the member name " + JSON.stringify(name.slice(0, 80)) + " appears twice in one object");
            names.add(name);
            space();
            if (text[at] !== ":") fail("syntax", "':' was expected" + where());
            at++;
          }
          value(depth + 1);
          space();
          if (text[at] === close) {
            at++;
            return;
          }
          if (text[at] !== ",") fail("syntax", "',' or '" + close + "' was expected" + where());
          at++;
        }
      }
      if (char === '"') {
        string();
      } else if (char === "-" || (char >= "0" && char <= "9")) {
        if (text.startsWith("-Infinity", at)) fail("number", "-Infinity is not a JSON number");
        number();
      } else {
        const word = ["true", "false", "null", "NaN", "Infinity"].find((w) => text.startsWith(w, at));
        if (word === "NaN" || word === "Infinity") fail("number", word + " is not a JSON number");
        if (!word) fail("syntax", "not a JSON value" + where());
        at += word.length;
      }
    }

    value(0);
    space();
    if (at < text.length) fail("syntax", "extra data after the JSON value" + where());
    return JSON.parse(text);
  }

  /* -- IndexedDB -------------------------------------------------------------------------- */
  let dbPromise = null;

  function db() {
    if (!dbPromise) {
      dbPromise = new Promise((resolve, reject) => {
        const request = indexedDB.open(DB_NAME, 1);
        request.onupgradeneeded = () => {
          const base = request.result;
          base.createObjectStore("keys");
          base.createObjectStore("credentials", { keyPath: "id" });
        };
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
    }
    return dbPromise;
  }

  async function tx(store, mode, work) {
    const base = await db();
    return new Promise((resolve, reject) => {
      const transaction = base.transaction(store, mode);
      const result = work(transaction.objectStore(store));
      transaction.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error);
    });
  }

  const dbGet = (store, key) => tx(store, "readonly", (s) => s.get(key));
  const dbPut = (store, value, key) => tx(store, "readwrite", (s) => (key === undefined ? s.put(value) : s.put(value, key)));
  const dbAll = (store) => tx(store, "readonly", (s) => s.getAll());
  const dbDelete = (store, key) => tx(store, "readwrite", (s) => s.delete(key));

  /* -- the holder key ------------------------------------------------------------------- */
  let keyPromise = null;

  async function makeKey() {
    const stored = await dbGet("keys", "holder");
    if (stored) return stored;
    if (!(crypto && crypto.subtle)) {
      throw new WalletError("NO_CRYPTO", "WebCrypto needs a secure context (https)");
    }
    let pair;
    try {
      pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
    } catch (error) {
      throw new WalletError("NO_ED25519", String(error));
    }
    const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    const multikey = "z" + b58encode(Uint8Array.from([0xed, 0x01, ...raw]));
    const key = { privateKey: pair.privateKey, publicKey: pair.publicKey, did: "did:key:" + multikey, createdAt: isoNow() };
    await dbPut("keys", key, "holder");
    return key;
  }

  function holderKey() {
    if (!keyPromise) keyPromise = makeKey().catch((error) => { keyPromise = null; throw error; });
    return keyPromise;
  }

  async function sign(bytes) {
    const key = await holderKey();
    return new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key.privateKey, bytes));
  }

  function verificationMethod(did) {
    return did + "#" + did.slice("did:key:".length);
  }

  /* The phone's clock may be wrong; the institution's is what its checks use (a key proof's iat,
   * a presentation's created: 5 minutes of tolerance). Every answer's Date header sets it. */
  /* As the verifier's default clock skew: a credential issued "now" by a clock a little ahead. */
  const CLOCK_SKEW = 5 * 60 * 1000;
  let clockOffset = Number(self.localStorage && localStorage.getItem("wallet-clock-offset")) || 0;

  function now() {
    return Date.now() + clockOffset;
  }

  function isoNow() {
    return new Date(now()).toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  /* -- this origin stands for one Credential Issuer ------------------------------------------- */
  let metadataPromise = null;

  async function getJson(url, options) {
    let response;
    try {
      response = await fetch(url, options);
    } catch (error) {
      throw new WalletError("OFFLINE", String(error));
    }
    /* Only I-JSON is read (parseIJson). An empty answer is null; an error answer that is not
     * I-JSON (a proxy's HTML page) is known by its HTTP status alone. */
    let body = null;
    let refused = null;
    let bytes;
    try {
      bytes = new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      throw new WalletError("OFFLINE", String(error));
    }
    try {
      if (bytes.length) body = parseIJson(bytes);
    } catch (error) {
      refused = error;
    }
    const date = response.headers.get("Date");
    if (date && Number.isFinite(Date.parse(date))) {
      clockOffset = Date.parse(date) + 500 - Date.now(); /* the header has whole seconds */
      localStorage.setItem("wallet-clock-offset", String(clockOffset)); /* for the next offline day */
    }
    if (!response.ok) {
      const code = (body && (body.error || body.code)) || "HTTP_" + response.status;
      const detail = (body && (body.error_description || body.detail)) || response.statusText;
      throw new WalletError(code, detail, { status: response.status });
    }
    if (refused) throw refused;
    return body;
  }

  function issuerMetadata() {
    if (!metadataPromise) {
      metadataPromise = getJson("/.well-known/openid-credential-issuer").then((metadata) => {
        if (!metadata || !TRUSTED_ISSUERS.includes(metadata.credential_issuer)) {
          throw new WalletError("ISSUER_NOT_TRUSTED", "this server is no institution's Credential Issuer");
        }
        return metadata;
      }).catch((error) => { metadataPromise = null; throw error; });
    }
    return metadataPromise;
  }

  /* A URL under the issuer's identifier, fetched at this origin (its deployment). */
  function local(url, issuerId) {
    if (url === issuerId || url.startsWith(issuerId + "/")) return url.slice(issuerId.length) || "/";
    throw new WalletError("FOREIGN_URL", "not under " + issuerId + ": " + url);
  }

  /* -- receiving: OpenID4VCI pre-authorized code flow ------------------------------------------ */
  function parseOffer(text) {
    const value = String(text || "").trim();
    let encoded = null;
    const query = value.indexOf("?");
    const hash = value.indexOf("#");
    for (const part of [query >= 0 ? value.slice(query + 1).split("#")[0] : "", hash >= 0 ? value.slice(hash + 1) : ""]) {
      const found = new URLSearchParams(part).get("credential_offer");
      if (found) encoded = found;
    }
    if (!encoded) throw new WalletError("OFFER_MALFORMED", "no credential_offer in the text");
    let offer;
    try {
      offer = parseIJson(encoded);
    } catch (error) {
      throw new WalletError("OFFER_MALFORMED", "the offer is " + error.message);
    }
    const grant = offer && offer.grants && offer.grants[PRE_AUTHORIZED];
    if (!offer || typeof offer.credential_issuer !== "string" || !grant || typeof grant["pre-authorized_code"] !== "string"
        || !Array.isArray(offer.credential_configuration_ids) || !offer.credential_configuration_ids.includes(CONFIGURATION_ID)) {
      throw new WalletError("OFFER_MALFORMED", "not a pre-authorized offer of a coverage credential");
    }
    if (!TRUSTED_ISSUERS.includes(offer.credential_issuer)) {
      throw new WalletError("ISSUER_NOT_TRUSTED", offer.credential_issuer);
    }
    return { issuer: offer.credential_issuer, code: grant["pre-authorized_code"], txCode: grant.tx_code || null };
  }

  function issuerDid(issuerId) {
    return "did:web:" + new URL(issuerId).host.replace(":", "%3A");
  }

  async function keyProof(issuerId, nonce) {
    const key = await holderKey();
    const header = { typ: "openid4vci-proof+jwt", kid: verificationMethod(key.did), alg: "EdDSA" };
    const claims = { aud: issuerId, iat: Math.floor(now() / 1000), nonce };
    const input = b64url(utf8(JSON.stringify(header))) + "." + b64url(utf8(JSON.stringify(claims)));
    return input + "." + b64url(await sign(utf8(input)));
  }

  async function receive(offer, pin, onStep) {
    const step = onStep || (() => {});
    const metadata = await issuerMetadata();
    const issuerId = metadata.credential_issuer;
    if (offer.issuer !== issuerId) {
      throw new WalletError("OTHER_ISSUER", offer.issuer, { here: issuerId });
    }
    const configuration = (metadata.credential_configurations_supported || {})[CONFIGURATION_ID] || {};
    const proofs = ((configuration.proof_types_supported || {}).jwt || {}).proof_signing_alg_values_supported || [];
    if (configuration.format !== "ldp_vc" || !(configuration.cryptographic_binding_methods_supported || []).includes("did:key") || !proofs.includes("EdDSA")) {
      throw new WalletError("METADATA_INVALID", "the issuer does not offer what this wallet takes");
    }
    const key = await holderKey();
    step("token");
    const server = await getJson("/.well-known/oauth-authorization-server");
    const form = new URLSearchParams({ grant_type: PRE_AUTHORIZED, "pre-authorized_code": offer.code });
    if (offer.txCode) form.set("tx_code", pin);
    const token = await getJson(local(server.token_endpoint, issuerId), {
      method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: form.toString(),
    });
    step("proof");
    const nonce = await getJson(local(metadata.nonce_endpoint, issuerId), { method: "POST" });
    const jwt = await keyProof(issuerId, nonce.c_nonce);
    step("credential");
    const answer = await getJson(local(metadata.credential_endpoint, issuerId), {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + token.access_token },
      body: JSON.stringify({ credential_configuration_id: CONFIGURATION_ID, proofs: { jwt: [jwt] } }),
    });
    const credential = answer && answer.credentials && answer.credentials[0] && answer.credentials[0].credential;
    if (!credential || typeof credential !== "object") throw new WalletError("CREDENTIAL_INVALID", "no credential in the answer");
    if ((credential.credentialSubject || {}).id !== key.did) throw new WalletError("CREDENTIAL_INVALID", "the credential names another holder");
    if (credential.issuer !== issuerDid(issuerId)) throw new WalletError("CREDENTIAL_INVALID", "the credential is not the offer's issuer's");
    step("card");
    const card = await getJson("/wallet/card-form", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ credential }),
    });
    const entry = { id: credential.id, credential, card: card.card, issuerId, receivedAt: isoNow(), status: null };
    await dbPut("credentials", entry);
    try {
      await refreshStatus(entry);
    } catch (error) {
      /* received; the state stays "not checked yet" until the next refresh */
    }
    return entry;
  }

  /* -- state: the institution's status lists ------------------------------------------------ */
  async function gunzip(bytes) {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  async function statusBit(entry, issuerId) {
    /* "no-cache": a check asks the institution, not the browser's copy of yesterday's list */
    const list = await getJson(local(entry.statusListCredential, issuerId), { cache: "no-cache" });
    const subject = (list && list.credentialSubject) || {};
    if (list.id !== entry.statusListCredential || subject.statusPurpose !== entry.statusPurpose || typeof subject.encodedList !== "string" || subject.encodedList[0] !== "u") {
      throw new WalletError("STATUS_LIST_INVALID", entry.statusListCredential);
    }
    const bits = await gunzip(b64urlDecode(subject.encodedList.slice(1)));
    const index = Number(entry.statusListIndex);
    if (!Number.isInteger(index) || index < 0 || index >= bits.length * 8) throw new WalletError("STATUS_LIST_INVALID", "index");
    /* Fresh until the list's validUntil, and no longer than its ttl after it was issued. */
    const ttl = Number.isFinite(subject.ttl) ? subject.ttl : 0;
    const issued = list.validFrom ? Date.parse(list.validFrom) : now();
    let freshUntil = list.validUntil ? Date.parse(list.validUntil) : now();
    if (ttl > 0) freshUntil = Math.min(freshUntil, issued + ttl);
    return { set: ((bits[index >> 3] >> (7 - (index & 7))) & 1) === 1, freshUntil };
  }

  async function refreshStatus(entry) {
    const entries = Array.isArray(entry.credential.credentialStatus) ? entry.credential.credentialStatus : [entry.credential.credentialStatus];
    const status = { checkedAt: isoNow(), revoked: false, suspended: false, freshUntil: null };
    let fresh = Infinity;
    for (const item of entries.filter(Boolean)) {
      const result = await statusBit(item, entry.issuerId);
      if (item.statusPurpose === "revocation") status.revoked = result.set;
      if (item.statusPurpose === "suspension") status.suspended = result.set;
      fresh = Math.min(fresh, result.freshUntil);
    }
    status.freshUntil = new Date(Number.isFinite(fresh) ? fresh : now()).toISOString();
    entry.status = status;
    await dbPut("credentials", entry);
    return entry;
  }

  /* What the wallet may say (wallet_spec/state.md): never "valid" on stale information. */
  function stateOf(entry, when) {
    const at = when === undefined ? now() : when;
    const credential = entry.credential;
    if (credential.validUntil && at > Date.parse(credential.validUntil)) return { state: "EXPIRED" };
    if (credential.validFrom && at + CLOCK_SKEW < Date.parse(credential.validFrom)) return { state: "NOT_YET_VALID" };
    const status = entry.status;
    if (status && status.revoked) return { state: "REVOKED", checkedAt: status.checkedAt };
    if (!status) return { state: "UNCHECKED" };
    if (at > Date.parse(status.freshUntil)) return { state: "STALE", checkedAt: status.checkedAt, suspended: status.suspended };
    if (status.suspended) return { state: "SUSPENDED", checkedAt: status.checkedAt };
    return { state: "VALID", checkedAt: status.checkedAt };
  }

  /* -- presentations (eddsa-jcs-2022) ------------------------------------------------------ */
  async function present(credentials, challenge, domain, id) {
    const key = await holderKey();
    const presentation = { "@context": [V2] };
    if (id) presentation.id = id;
    Object.assign(presentation, { type: ["VerifiablePresentation"], holder: key.did });
    if (credentials.length) presentation.verifiableCredential = credentials;
    const options = {
      type: "DataIntegrityProof", cryptosuite: "eddsa-jcs-2022", created: isoNow(),
      verificationMethod: verificationMethod(key.did), proofPurpose: "authentication", challenge, domain,
    };
    const config = Object.assign({}, options, { "@context": presentation["@context"] });
    const proofHash = await sha256(utf8(jcs(config)));
    const documentHash = await sha256(utf8(jcs(presentation)));
    const data = new Uint8Array(64);
    data.set(proofHash, 0);
    data.set(documentHash, 32);
    presentation.proof = Object.assign({}, options, { proofValue: "z" + b58encode(await sign(data)) });
    return presentation;
  }

  function institutionOf(entry) {
    return ((entry.credential.credentialSubject || {}).coverage || {}).institution;
  }

  /* A fresh presentation to ``entry``'s institution (its challenge), of ``entry``'s credential
   * unless ``bare``, signing the statement whose id is ``id`` when given. */
  async function presentTo(entry, id, bare) {
    const code = institutionOf(entry);
    const challenge = await getJson("/institutions/" + encodeURIComponent(code) + "/consent/challenges", { method: "POST" });
    return present(bare ? [] : [entry.credential], challenge.challenge, challenge.domain, id);
  }

  /* wallet_spec/consent-requests.md: the presentation's id names the statement it signs. */
  async function statementId(statement) {
    const digest = await sha256(utf8(jcs(statement)));
    return "urn:credencial:statement:sha256:" + Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function me(entry, path, extra) {
    const code = institutionOf(entry);
    return "/me/" + path + "?institution=" + encodeURIComponent(code) + (extra || "");
  }

  async function consentRequests(entry) {
    return getJson(me(entry, "consent-requests"), { headers: { Authorization: await authorization(entry) } });
  }

  async function consentRequest(entry, requestId) {
    return getJson(me(entry, "consent-requests/" + encodeURIComponent(requestId)), { headers: { Authorization: await authorization(entry) } });
  }

  /* The grant of an approval: the request's scope, or narrower (classes, access end). */
  function grantFor(entry, request, dataClasses, accessUntil) {
    const grant = {
      curp: entry.credential.credentialSubject.curp,
      grantees: [request.requesterUnit ? { institution: request.requester, unit: request.requesterUnit } : { institution: request.requester }],
      dataClasses: dataClasses || request.dataClasses,
      purposes: [request.purpose],
    };
    if (request.dataFrom) grant.dataFrom = request.dataFrom;
    if (request.dataUntil) grant.dataUntil = request.dataUntil;
    grant.validFrom = isoNow();
    grant.validUntil = accessUntil || request.accessUntil;
    grant.locations = ["MX"];
    return grant;
  }

  async function approve(entry, request, dataClasses, accessUntil) {
    const code = institutionOf(entry);
    const grant = grantFor(entry, request, dataClasses, accessUntil);
    const id = await statementId({ action: "consent.grant", institution: code, grant, request: request.id });
    const presentation = await presentTo(entry, id);
    const answer = await getJson(me(entry, "consent-requests/" + encodeURIComponent(request.id) + "/approval"), {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ grant, presentation }),
    });
    entry.receipts = (entry.receipts || []).concat([answer.receipt]); /* a desk may count it offline */
    await dbPut("credentials", entry);
    return answer;
  }

  async function deny(entry, request) {
    const code = institutionOf(entry);
    const id = await statementId({ action: "consent.deny", institution: code, request: request.id });
    const presentation = await presentTo(entry, id);
    return getJson(me(entry, "consent-requests/" + encodeURIComponent(request.id) + "/denial"), {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ presentation }),
    });
  }

  async function consentGrants(entry) {
    return getJson(me(entry, "consent-grants"), { headers: { Authorization: await authorization(entry) } });
  }

  async function withdraw(entry, grantId) {
    const code = institutionOf(entry);
    const id = await statementId({ action: "consent.withdraw", grantId });
    const presentation = await presentTo(entry, id, true);
    return getJson("/institutions/" + encodeURIComponent(code) + "/consent/grants/" + encodeURIComponent(grantId) + "/withdrawal", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ presentation }),
    });
  }

  async function record(entry) {
    return getJson(me(entry, "record"), { headers: { Authorization: await authorization(entry) } });
  }

  async function authorization(entry) {
    return "Presentation " + b64url(utf8(JSON.stringify(await presentTo(entry))));
  }

  async function accessLog(entry) {
    const code = institutionOf(entry);
    return getJson("/me/access-log?institution=" + encodeURIComponent(code), {
      headers: { Authorization: await authorization(entry) },
    });
  }

  async function units(entry, near) {
    const code = institutionOf(entry);
    const body = { presentation: await presentTo(entry) };
    if (near) body.near = near;
    return getJson("/me/units/search?institution=" + encodeURIComponent(code), {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
  }

  return {
    TRUSTED_ISSUERS, WalletError, accessLog, approve, authorization, consentGrants, consentRequest,
    consentRequests, deny, record, statementId, withdraw, b58encode, b64url, b64urlDecode,
    credentials: () => dbAll("credentials"), deleteCredential: (id) => dbDelete("credentials", id),
    getJson, holderKey, institutionOf, issuerMetadata, jcs, parseOffer, present, presentTo, receive,
    now, parseIJson, refreshStatus, stateOf, units,
  };
})();

if (typeof self !== "undefined") self.WalletCore = WalletCore;

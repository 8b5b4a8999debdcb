// URL and URLSearchParams: the WHATWG URL Standard's basic URL parser, written
// from https://url.spec.whatwg.org/ (the 2025 text: ^ in the path
// percent-encode set, spaces in opaque paths kept unless before ? or #).
//
// Hosts: ASCII hosts are lowercased; a non-ASCII domain is mapped with a small
// subset of UTS #46 (toLowerCase, NFC, the three ideographic full stops to
// '.', soft hyphen dropped) and its labels are Punycode-encoded ('xn--').
// Not done: the rest of the UTS #46 mapping table, its disallowed code points,
// Bidi/ContextJ checks, and validating existing 'xn--' labels; so some inputs
// a browser rejects are accepted here, and rare ones map differently.
import { toUSV, enc, dec, iterable } from './util.js';

// Percent-encode sets, one bit each, for ASCII; every non-ASCII code point is in all of them.
const C0 = 1, FRAGMENT = 2, QUERY = 4, SPECIAL_QUERY = 8, PATH = 16, USERINFO = 32, FORM = 64;
const SETS = new Uint8Array(128);
for (let i = 0; i < 0x20; i++) SETS[i] = 127;
SETS[0x7f] = 127;
const add = (chars, bits) => { for (const c of chars) SETS[c.charCodeAt(0)] |= bits; };
add(' "<>`', FRAGMENT);
add(' "#<>', QUERY | SPECIAL_QUERY | PATH | USERINFO | FORM);
add("'", SPECIAL_QUERY);
add('?^`{}', PATH | USERINFO | FORM);
add('/:;=@[\\]^|', USERINFO | FORM);
add("$%&+,!'()~", FORM);

const hex = b => '%' + (b < 16 ? '0' : '') + b.toString(16).toUpperCase();
// pct percent-encodes one code point c (a string) if it is in set.
function pct(c, set) {
  const n = c.charCodeAt(0);
  if (c.length === 1 && n < 0x80) return SETS[n] & set ? hex(n) : c;
  let s = '';
  for (const b of enc(c)) s += hex(b);
  return s;
}
// PLAIN[set] matches the strings that set leaves as they are.
const PLAIN = {
  [C0]: /^[\x20-\x7e]*$/,
  [USERINFO]: /^[!$-.0-9A-Z_a-z~]*$/,
  [QUERY]: /^[!$-;=?-~]*$/,
  [SPECIAL_QUERY]: /^[!$-&(-;=?-~]*$/,
};
function pctString(str, set) {
  if (PLAIN[set]?.test(str)) return str;
  let s = '';
  for (const c of str) s += pct(c, set);
  return s;
}
// pctDecode percent-decodes str (UTF-8 encoded first) to bytes.
function pctDecode(str) {
  const b = enc(str), out = new Uint8Array(b.length);
  let o = 0;
  for (let i = 0; i < b.length; i++) {
    const h = b[i] === 0x25 && i + 2 < b.length ? String.fromCharCode(b[i + 1], b[i + 2]) : '';
    if (/^[0-9A-Fa-f]{2}$/.test(h)) { out[o++] = parseInt(h, 16); i += 2; } else out[o++] = b[i];
  }
  return out.subarray(0, o);
}

const specialPorts = { ftp: 21, file: null, http: 80, https: 443, ws: 80, wss: 443 };
const isSpecial = s => Object.hasOwn(specialPorts, s);
const alpha = c => c !== undefined && /^[A-Za-z]$/.test(c);
const digit = c => c !== undefined && c >= '0' && c <= '9' && c.length === 1;
const isHex = c => c !== undefined && /^[0-9A-Fa-f]$/.test(c);
const isDrive = s => /^[A-Za-z][:|]$/.test(s);
const isNormalizedDrive = s => /^[A-Za-z]:$/.test(s);
const startsWithDrive = (cps, p) => cps.length - p >= 2 && alpha(cps[p]) && (cps[p + 1] === ':' || cps[p + 1] === '|') &&
  (cps.length - p === 2 || '/\\?#'.includes(cps[p + 2]));
const singleDot = b => b === '.' || b.toLowerCase() === '%2e';
const doubleDot = b => { b = b.toLowerCase(); return b === '..' || b === '.%2e' || b === '%2e.' || b === '%2e%2e'; };
const hasCredentials = u => u.username !== '' || u.password !== '';
function shorten(u) {
  if (u.scheme === 'file' && u.path.length === 1 && isNormalizedDrive(u.path[0])) return;
  u.path.pop();
}

// --- hosts ---

function ipv4Number(s) {
  if (s === '') return NaN;
  let r = 10;
  if (s[0] === '0' && (s[1] === 'x' || s[1] === 'X')) { s = s.slice(2); r = 16; }
  else if (s.length > 1 && s[0] === '0') { s = s.slice(1); r = 8; }
  if (s === '') return 0;
  if (!(r === 10 ? /^[0-9]+$/ : r === 16 ? /^[0-9A-Fa-f]+$/ : /^[0-7]+$/).test(s)) return NaN;
  return parseInt(s, r);
}
function endsInNumber(s) {
  const parts = s.split('.');
  if (parts[parts.length - 1] === '') { if (parts.length === 1) return false; parts.pop(); }
  const last = parts[parts.length - 1];
  return /^[0-9]+$/.test(last) || !isNaN(ipv4Number(last));
}
function parseIPv4(s) {
  const parts = s.split('.');
  if (parts[parts.length - 1] === '' && parts.length > 1) parts.pop();
  if (parts.length > 4) return false;
  const nums = parts.map(ipv4Number);
  const n = nums.length;
  for (let i = 0; i < n; i++) if (isNaN(nums[i]) || (i < n - 1 && nums[i] > 255)) return false;
  if (nums[n - 1] >= 256 ** (5 - n)) return false;
  let v = nums[n - 1];
  for (let i = 0; i < n - 1; i++) v += nums[i] * 256 ** (3 - i);
  return [v / 16777216 | 0, (v / 65536 | 0) & 255, (v / 256 | 0) & 255, v & 255].join('.');
}
function parseIPv6(s) {
  const a = [0, 0, 0, 0, 0, 0, 0, 0];
  let piece = 0, compress = null, p = 0;
  if (s[0] === ':') {
    if (s[1] !== ':') return false;
    p = 2; compress = piece = 1;
  }
  while (p < s.length) {
    if (piece === 8) return false;
    if (s[p] === ':') {
      if (compress !== null) return false;
      p++; compress = ++piece;
      continue;
    }
    let v = 0, len = 0;
    while (len < 4 && isHex(s[p])) { v = v * 16 + parseInt(s[p], 16); p++; len++; }
    if (s[p] === '.') {
      if (len === 0 || piece > 6) return false;
      p -= len;
      let seen = 0;
      while (p < s.length) {
        let v4 = null;
        if (seen > 0) { if (s[p] === '.' && seen < 4) p++; else return false; }
        if (!digit(s[p])) return false;
        while (digit(s[p])) {
          const d = +s[p];
          if (v4 === null) v4 = d; else if (v4 === 0) return false; else v4 = v4 * 10 + d;
          if (v4 > 255) return false;
          p++;
        }
        a[piece] = a[piece] * 256 + v4;
        if (++seen === 2 || seen === 4) piece++;
      }
      if (seen !== 4) return false;
      break;
    } else if (s[p] === ':') {
      if (++p >= s.length) return false;
    } else if (p < s.length) return false;
    a[piece++] = v;
  }
  if (compress !== null) {
    let swaps = piece - compress;
    for (piece = 7; piece !== 0 && swaps > 0; piece--, swaps--) {
      const t = a[piece]; a[piece] = a[compress + swaps - 1]; a[compress + swaps - 1] = t;
    }
  } else if (piece !== 8) return false;
  return a;
}
function serializeIPv6(a) {
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (a[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && a[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === best) { out += i === 0 ? '::' : ':'; i += bestLen - 1; continue; }
    out += a[i].toString(16) + (i < 7 ? ':' : '');
  }
  return out;
}

// punycode encodes one label (RFC 3492).
function punycode(label) {
  const cps = Array.from(label, c => c.codePointAt(0));
  const digitOf = d => String.fromCharCode(d < 26 ? 97 + d : 22 + d);
  const adapt = (delta, points, first) => {
    delta = first ? Math.floor(delta / 700) : delta >> 1;
    delta += Math.floor(delta / points);
    let k = 0;
    for (; delta > 455; k += 36) delta = Math.floor(delta / 35);
    return k + Math.floor(36 * delta / (delta + 38));
  };
  let n = 128, delta = 0, bias = 72, out = '';
  for (const c of cps) if (c < 128) out += String.fromCharCode(c);
  const b = out.length;
  let h = b;
  if (b) out += '-';
  while (h < cps.length) {
    let m = Infinity;
    for (const c of cps) if (c >= n && c < m) m = c;
    delta += (m - n) * (h + 1);
    n = m;
    for (const c of cps) {
      if (c < n) delta++;
      if (c !== n) continue;
      let q = delta;
      for (let k = 36; ; k += 36) {
        const t = k <= bias ? 1 : k >= bias + 26 ? 26 : k - bias;
        if (q < t) break;
        out += digitOf(t + (q - t) % (36 - t));
        q = Math.floor((q - t) / (36 - t));
      }
      out += digitOf(q);
      bias = adapt(delta, h + 1, h === b);
      delta = 0; h++;
    }
    delta++; n++;
  }
  return out;
}

function domainToASCII(d) {
  if (/^[\x00-\x7f]*$/.test(d)) return d.toLowerCase();
  d = d.replace(/[\u3002\uff0e\uff61]/g, '.').replace(/\u00ad/g, '').toLowerCase().normalize('NFC');
  return d.split('.').map(l => /^[\x00-\x7f]*$/.test(l) ? l : 'xn--' + punycode(l)).join('.');
}

function parseHost(input, notSpecial) {
  if (input[0] === '[') {
    if (input[input.length - 1] !== ']') return false;
    const a = parseIPv6(input.slice(1, -1));
    return a && '[' + serializeIPv6(a) + ']';
  }
  if (notSpecial) {
    if (/[\0\t\n\r #/:<>?@[\\\]^|]/.test(input)) return false;
    return pctString(input, C0);
  }
  const domain = input.includes('%') ? dec(pctDecode(input)) : input;
  const ascii = domainToASCII(domain);
  if (ascii === '' || /[\0-\x20#%/:<>?@[\\\]^|\x7f]/.test(ascii)) return false;
  if (endsInNumber(ascii)) return parseIPv4(ascii);
  return ascii;
}

// --- the basic URL parser ---

const SCHEME_START = 1, SCHEME = 2, NO_SCHEME = 3, SPECIAL_RELATIVE_OR_AUTHORITY = 4, PATH_OR_AUTHORITY = 5,
  RELATIVE = 6, RELATIVE_SLASH = 7, SPECIAL_AUTHORITY_SLASHES = 8, SPECIAL_AUTHORITY_IGNORE_SLASHES = 9,
  AUTHORITY = 10, HOST = 11, HOSTNAME = 12, PORT = 13, FILE = 14, FILE_SLASH = 15, FILE_HOST = 16,
  PATH_START = 17, PATH_STATE = 18, OPAQUE_PATH = 19, QUERY_STATE = 20, FRAGMENT_STATE = 21;

// fastParse handles the common absolute http(s) URLs that the basic parser
// would leave as they are but for the host's case, the default port and an
// empty path: an ASCII host name, a port, and a path, query and fragment
// made only of chars their percent-encode sets leave alone (no space, C0,
// non-ASCII, backslash, percent; no userinfo). It uses no regular
// expression on the whole URL (one costs the engine several microseconds):
// encodeURI, native, leaves a string as it is only when it is made of
// A-Z a-z 0-9 ; , / ? : @ & = + $ - _ . ! ~ * ' ( ) #, which the path and
// fragment sets leave alone, and the query's too but for "'"; it escapes
// '%' too, which they leave alone, so a string whose only change is each
// '%' made '%25' is handled as well (the host's is not: see authorityOf). Authorities
// are checked with regular expressions once and kept (see authorityOf).
const DOT_SEGMENT = /\/(?:\.|%2e){1,2}(?=\/|$)/i;
const NUMERIC_LABEL = /(?:^|\.)(?:[0-9]+|0[Xx][0-9A-Fa-f]*)\.?$/;
// An IPv4 address as the IPv4 serializer writes it (four decimal parts, no
// leading zeros): the host of every request over 127.0.0.1.
const CANONICAL_IPV4 = /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;
const HOST_PORT = /^([-.0-9A-Z_a-z]+)(?::([0-9]{1,5}))?$/;

const mayEndInNumber = c => c <= 0x39 || (c | 0x20) <= 0x66 || (c | 0x20) === 0x78; // 0-9 . A-F a-f X x
// authorities maps "scheme://authority" to [host, port, host:port] as the
// parser makes them, or to null when the full parser must run; a few hundred are kept.
const authorities = new Map(), maxAuthorities = 256;
function authorityOf(scheme, auth) {
  const key = scheme + '://' + auth;
  let a = authorities.get(key);
  if (a !== undefined) return a;
  a = null;
  const m = HOST_PORT.exec(auth);
  // (A host ends in a number only if its last char is a hex digit, x or a dot.)
  if (m !== null && !(mayEndInNumber(m[1].charCodeAt(m[1].length - 1)) && NUMERIC_LABEL.test(m[1]) && !CANONICAL_IPV4.test(m[1]))) {
    let p = null;
    if (m[2] !== undefined) {
      p = +m[2];
      if (p === (scheme === 'http' ? 80 : 443)) p = null;
    }
    if (p === null || p <= 65535) {
      const host = m[1].toLowerCase();
      a = [host, p, p === null ? host : host + ':' + p]; // host, port, as serialized
    }
  }
  if (authorities.size >= maxAuthorities) authorities.clear();
  authorities.set(key, a);
  return a;
}

// fastScan checks whether input is a URL fastParse handles; if so it
// leaves where its parts are in the variables below (no object: each one
// made costs the engine about as much as the scan).
// scanned is the input they are of: a request's URL is scanned again by
// new URL(request.url) after parseHref made request.url.
let fScheme, fAuth, fSlash, fQuery, fHash, fEnd, scanned = null;
function fastScan(input) {
  if (input === scanned) return true;
  scanned = null;
  let i;
  if (input.startsWith('http://')) { fScheme = 'http'; i = 7; }
  else if (input.startsWith('https://')) { fScheme = 'https'; i = 8; }
  else return false;
  const e = encodeURI(input);
  // (encodeURI escapes '%' too, which every set leaves alone: a query of
  // percent-escapes, as a URL in a query has, is common.)
  if (e !== input && (e.length === input.length || e !== input.replaceAll('%', '%25'))) return false;
  const hash = input.indexOf('#', i), end = hash < 0 ? input.length : hash;
  let q = input.indexOf('?', i);
  if (q > end) q = -1;
  let slash = input.indexOf('/', i);
  if (slash > (q < 0 ? end : q)) slash = -1;
  const a = authorityOf(fScheme, input.slice(i, slash >= 0 ? slash : q >= 0 ? q : end));
  if (a === null) return false;
  if (slash >= 0) { // a dot segment, "." or "..", maybe percent-encoded
    const pathEnd = q >= 0 ? q : end, dot = input.indexOf('/.', slash), pc = input.indexOf('%', slash);
    if (((dot >= 0 && dot < pathEnd) || (pc >= 0 && pc < pathEnd)) && DOT_SEGMENT.test(input.slice(slash, pathEnd))) return false;
  }
  if (q >= 0 && input.includes("'", q) && input.slice(q, end).includes("'")) return false;
  fAuth = a; fSlash = slash; fQuery = q; fHash = hash; fEnd = end; scanned = input;
  return true;
}

// fastParse returns the URL record of a common absolute http(s) URL without
// running the state machine, or null when the input needs the full parser.
function fastParse(input) {
  if (!fastScan(input)) return null;
  const slash = fSlash, q = fQuery, end = fEnd;
  let path = [''];
  if (slash >= 0) {
    const p = input.slice(slash, q >= 0 ? q : end);
    if (p !== '/') path = p.slice(1).split('/');
  }
  return {
    scheme: fScheme, username: '', password: '', host: fAuth[0], port: fAuth[1],
    path, query: q >= 0 ? input.slice(q + 1, end) : null, fragment: fHash < 0 ? null : input.slice(fHash + 1),
  };
}

// fastHref returns the href of input when fastParse handles it, else null:
// most often input itself.
function fastHref(input) {
  if (!fastScan(input)) return null;
  const start = fScheme.length + 3, auth = fAuth[2];
  if (fSlash >= 0) {
    if (input.startsWith(auth, start) && fSlash === start + auth.length) return input;
    return fScheme + '://' + auth + input.slice(fSlash);
  }
  return fScheme + '://' + auth + '/' + input.slice(fQuery >= 0 ? fQuery : fEnd);
}

// basicParse returns the URL record, or false on failure. With a state
// override it changes url in place (the setters), and its result is ignored.
function basicParse(input, base, url, override) {
  if (!url) {
    const u = fastParse(input);
    if (u !== null) return u;
    url = { scheme: '', username: '', password: '', host: null, port: null, path: [], query: null, fragment: null };
    input = input.replace(/^[\0-\x20]+|[\0-\x20]+$/g, '');
  }
  const cps = Array.from(input.replace(/[\t\n\r]/g, ''));
  let state = override || SCHEME_START, buffer = '', atSign = false, brackets = false, passwordSeen = false;
  for (let p = 0; ; p++) {
    const c = cps[p];
    switch (state) {
      case SCHEME_START:
        if (alpha(c)) { buffer += c.toLowerCase(); state = SCHEME; }
        else if (!override) { state = NO_SCHEME; p--; }
        else return false;
        break;
      case SCHEME:
        if (alpha(c) || digit(c) || c === '+' || c === '-' || c === '.') buffer += c.toLowerCase();
        else if (c === ':') {
          if (override) {
            if (isSpecial(url.scheme) !== isSpecial(buffer)) return url;
            if ((hasCredentials(url) || url.port !== null) && buffer === 'file') return url;
            if (url.scheme === 'file' && url.host === '') return url;
          }
          url.scheme = buffer;
          if (override) {
            if (url.port === specialPorts[url.scheme]) url.port = null;
            return url;
          }
          buffer = '';
          if (url.scheme === 'file') state = FILE;
          else if (isSpecial(url.scheme) && base && base.scheme === url.scheme) state = SPECIAL_RELATIVE_OR_AUTHORITY;
          else if (isSpecial(url.scheme)) state = SPECIAL_AUTHORITY_SLASHES;
          else if (cps[p + 1] === '/') { state = PATH_OR_AUTHORITY; p++; }
          else { url.path = ''; state = OPAQUE_PATH; }
        } else if (!override) { buffer = ''; state = NO_SCHEME; p = -1; }
        else return false;
        break;
      case NO_SCHEME:
        if (!base || (typeof base.path === 'string' && c !== '#')) return false;
        if (typeof base.path === 'string') {
          url.scheme = base.scheme; url.path = base.path; url.query = base.query; url.fragment = '';
          state = FRAGMENT_STATE;
        } else { state = base.scheme === 'file' ? FILE : RELATIVE; p--; }
        break;
      case SPECIAL_RELATIVE_OR_AUTHORITY:
        if (c === '/' && cps[p + 1] === '/') { state = SPECIAL_AUTHORITY_IGNORE_SLASHES; p++; }
        else { state = RELATIVE; p--; }
        break;
      case PATH_OR_AUTHORITY:
        if (c === '/') state = AUTHORITY; else { state = PATH_STATE; p--; }
        break;
      case RELATIVE:
        url.scheme = base.scheme;
        if (c === '/' || (c === '\\' && isSpecial(url.scheme))) state = RELATIVE_SLASH;
        else {
          url.username = base.username; url.password = base.password; url.host = base.host; url.port = base.port;
          url.path = base.path.slice(); url.query = base.query;
          if (c === '?') { url.query = ''; state = QUERY_STATE; }
          else if (c === '#') { url.fragment = ''; state = FRAGMENT_STATE; }
          else if (c !== undefined) { url.query = null; shorten(url); state = PATH_STATE; p--; }
        }
        break;
      case RELATIVE_SLASH:
        if (isSpecial(url.scheme) && (c === '/' || c === '\\')) state = SPECIAL_AUTHORITY_IGNORE_SLASHES;
        else if (c === '/') state = AUTHORITY;
        else {
          url.username = base.username; url.password = base.password; url.host = base.host; url.port = base.port;
          state = PATH_STATE; p--;
        }
        break;
      case SPECIAL_AUTHORITY_SLASHES:
        state = SPECIAL_AUTHORITY_IGNORE_SLASHES;
        if (c === '/' && cps[p + 1] === '/') p++; else p--;
        break;
      case SPECIAL_AUTHORITY_IGNORE_SLASHES:
        if (c !== '/' && c !== '\\') { state = AUTHORITY; p--; }
        break;
      case AUTHORITY:
        if (c === '@') {
          if (atSign) buffer = '%40' + buffer;
          atSign = true;
          for (const b of buffer) {
            if (b === ':' && !passwordSeen) { passwordSeen = true; continue; }
            if (passwordSeen) url.password += pct(b, USERINFO); else url.username += pct(b, USERINFO);
          }
          buffer = '';
        } else if (c === undefined || c === '/' || c === '?' || c === '#' || (c === '\\' && isSpecial(url.scheme))) {
          if (atSign && buffer === '') return false;
          p -= Array.from(buffer).length + 1;
          buffer = ''; state = HOST;
        } else buffer += c;
        break;
      case HOST: case HOSTNAME:
        if (override && url.scheme === 'file') { p--; state = FILE_HOST; }
        else if (c === ':' && !brackets) {
          if (buffer === '' || override === HOSTNAME) return false;
          const h = parseHost(buffer, !isSpecial(url.scheme));
          if (h === false) return false;
          url.host = h; buffer = ''; state = PORT;
        } else if (c === undefined || c === '/' || c === '?' || c === '#' || (c === '\\' && isSpecial(url.scheme))) {
          p--;
          if (buffer === '' && (isSpecial(url.scheme) || (override && (hasCredentials(url) || url.port !== null)))) return false;
          const h = parseHost(buffer, !isSpecial(url.scheme));
          if (h === false) return false;
          url.host = h; buffer = ''; state = PATH_START;
          if (override) return url;
        } else {
          if (c === '[') brackets = true;
          if (c === ']') brackets = false;
          buffer += c;
        }
        break;
      case PORT:
        if (digit(c)) buffer += c;
        else if (c === undefined || c === '/' || c === '?' || c === '#' || (c === '\\' && isSpecial(url.scheme)) || override) {
          if (buffer !== '') {
            const port = parseInt(buffer, 10);
            if (port > 65535) return false;
            url.port = port === specialPorts[url.scheme] ? null : port;
            buffer = '';
            if (override) return url;
          }
          if (override) return false;
          state = PATH_START; p--;
        } else return false;
        break;
      case FILE:
        url.scheme = 'file'; url.host = '';
        if (c === '/' || c === '\\') state = FILE_SLASH;
        else if (base && base.scheme === 'file') {
          url.host = base.host; url.path = base.path.slice(); url.query = base.query;
          if (c === '?') { url.query = ''; state = QUERY_STATE; }
          else if (c === '#') { url.fragment = ''; state = FRAGMENT_STATE; }
          else if (c !== undefined) {
            url.query = null;
            if (!startsWithDrive(cps, p)) shorten(url); else url.path = [];
            state = PATH_STATE; p--;
          }
        } else { state = PATH_STATE; p--; }
        break;
      case FILE_SLASH:
        if (c === '/' || c === '\\') state = FILE_HOST;
        else {
          if (base && base.scheme === 'file') {
            url.host = base.host;
            if (!startsWithDrive(cps, p) && isNormalizedDrive(base.path[0] ?? '')) url.path.push(base.path[0]);
          }
          state = PATH_STATE; p--;
        }
        break;
      case FILE_HOST:
        if (c === undefined || c === '/' || c === '\\' || c === '?' || c === '#') {
          p--;
          if (!override && isDrive(buffer)) state = PATH_STATE; // the buffer becomes the first path segment
          else if (buffer === '') {
            url.host = '';
            if (override) return url;
            state = PATH_START;
          } else {
            let h = parseHost(buffer, !isSpecial(url.scheme));
            if (h === false) return false;
            url.host = h === 'localhost' ? '' : h;
            if (override) return url;
            buffer = ''; state = PATH_START;
          }
        } else buffer += c;
        break;
      case PATH_START:
        if (isSpecial(url.scheme)) { state = PATH_STATE; if (c !== '/' && c !== '\\') p--; }
        else if (!override && c === '?') { url.query = ''; state = QUERY_STATE; }
        else if (!override && c === '#') { url.fragment = ''; state = FRAGMENT_STATE; }
        else if (c !== undefined) { state = PATH_STATE; if (c !== '/') p--; }
        else if (override && url.host === null) url.path.push('');
        break;
      case PATH_STATE: {
        const slash = c === '/' || (c === '\\' && isSpecial(url.scheme));
        if (c === undefined || slash || (!override && (c === '?' || c === '#'))) {
          if (doubleDot(buffer)) { shorten(url); if (!slash) url.path.push(''); }
          else if (singleDot(buffer)) { if (!slash) url.path.push(''); }
          else {
            if (url.scheme === 'file' && url.path.length === 0 && isDrive(buffer)) buffer = buffer[0] + ':';
            url.path.push(buffer);
          }
          buffer = '';
          if (c === '?') { url.query = ''; state = QUERY_STATE; }
          else if (c === '#') { url.fragment = ''; state = FRAGMENT_STATE; }
        } else buffer += pct(c, PATH);
        break;
      }
      case OPAQUE_PATH:
        if (c === '?') { url.query = ''; state = QUERY_STATE; }
        else if (c === '#') { url.fragment = ''; state = FRAGMENT_STATE; }
        else if (c === ' ') url.path += cps[p + 1] === '?' || cps[p + 1] === '#' ? '%20' : ' ';
        else if (c !== undefined) url.path += pct(c, C0);
        break;
      case QUERY_STATE:
        if (c === undefined || (!override && c === '#')) {
          url.query += pctString(buffer, isSpecial(url.scheme) ? SPECIAL_QUERY : QUERY);
          buffer = '';
          if (c === '#') { url.fragment = ''; state = FRAGMENT_STATE; }
        } else buffer += c;
        break;
      case FRAGMENT_STATE:
        if (c !== undefined) url.fragment += pct(c, FRAGMENT);
        break;
    }
    if (p >= cps.length) break;
  }
  return url;
}

const pathString = u => typeof u.path === 'string' ? u.path : u.path.length ? '/' + u.path.join('/') : '';
function serialize(u, noFragment) {
  let s = u.scheme + ':';
  if (u.host !== null) {
    s += '//';
    if (hasCredentials(u)) s += u.username + (u.password ? ':' + u.password : '') + '@';
    s += u.host + (u.port !== null ? ':' + u.port : '');
  } else if (typeof u.path !== 'string' && u.path.length > 1 && u.path[0] === '') s += '/.';
  s += pathString(u);
  if (u.query !== null) s += '?' + u.query;
  if (!noFragment && u.fragment !== null) s += '#' + u.fragment;
  return s;
}
function origin(u) {
  switch (u.scheme) {
    case 'blob': {
      const inner = typeof u.path === 'string' && basicParse(u.path);
      return inner && (inner.scheme === 'http' || inner.scheme === 'https') ? origin(inner) : 'null';
    }
    case 'ftp': case 'http': case 'https': case 'ws': case 'wss':
      return u.scheme + '://' + u.host + (u.port !== null ? ':' + u.port : '');
  }
  return 'null';
}
const cannotHaveCredentials = u => u.host === null || u.host === '' || u.scheme === 'file';
const custom = Symbol.for('nodejs.util.inspect.custom');

// parseHref parses a URL string (against an optional base string); it returns the href, or null on failure.
export function parseHref(input, base) {
  if (base === undefined) {
    input = toUSV(input);
    const href = fastHref(input);
    if (href !== null) return href;
  }
  const b = base === undefined ? null : basicParse(toUSV(base));
  if (b === false) return null;
  const u = basicParse(toUSV(input), b);
  return u ? serialize(u) : null;
}

// Set by the classes' static blocks: the internal access to their private state.
let linkedParams, resetParams;
let pairs;

export class URL {
  #u; #params = null; // the URLSearchParams, made when first asked for
  constructor(url, base) {
    // (No check of arguments.length: an arguments object costs every call,
    // and new URL() throws a TypeError anyway, parsing "undefined".)
    let b = null;
    if (base !== undefined) {
      b = basicParse(toUSV(base));
      if (!b) throw new TypeError(`Invalid base URL: ${base}`);
    }
    const u = basicParse(toUSV(url), b);
    if (!u) throw new TypeError(`Invalid URL: ${url}`);
    this.#u = u;
  }
  static canParse(url, base) {
    let b = null;
    if (base !== undefined && !(b = basicParse(toUSV(base)))) return false;
    return !!basicParse(toUSV(url), b);
  }
  static parse(url, base) {
    try { return new URL(url, base); } catch { return null; }
  }
  get href() { return serialize(this.#u); }
  set href(v) {
    const u = basicParse(toUSV(v));
    if (!u) throw new TypeError(`Invalid URL: ${v}`);
    Object.assign(this.#u, u); // in place: the searchParams hold the record
    if (this.#params) resetParams(this.#params, u.query);
  }
  get origin() { return origin(this.#u); }
  get protocol() { return this.#u.scheme + ':'; }
  set protocol(v) { basicParse(toUSV(v) + ':', null, this.#u, SCHEME_START); }
  get username() { return this.#u.username; }
  set username(v) { if (!cannotHaveCredentials(this.#u)) this.#u.username = pctString(toUSV(v), USERINFO); }
  get password() { return this.#u.password; }
  set password(v) { if (!cannotHaveCredentials(this.#u)) this.#u.password = pctString(toUSV(v), USERINFO); }
  get host() {
    const u = this.#u;
    return u.host === null ? '' : u.port === null ? u.host : u.host + ':' + u.port;
  }
  set host(v) { if (typeof this.#u.path !== 'string') basicParse(toUSV(v), null, this.#u, HOST); }
  get hostname() { return this.#u.host ?? ''; }
  set hostname(v) { if (typeof this.#u.path !== 'string') basicParse(toUSV(v), null, this.#u, HOSTNAME); }
  get port() { return this.#u.port === null ? '' : String(this.#u.port); }
  set port(v) {
    if (cannotHaveCredentials(this.#u)) return;
    v = toUSV(v);
    if (v === '') this.#u.port = null; else basicParse(v, null, this.#u, PORT);
  }
  get pathname() { return pathString(this.#u); }
  set pathname(v) {
    if (typeof this.#u.path === 'string') return;
    this.#u.path = [];
    basicParse(toUSV(v), null, this.#u, PATH_START);
  }
  get search() { const q = this.#u.query; return q ? '?' + q : ''; }
  set search(v) {
    v = toUSV(v);
    if (v === '') { this.#u.query = null; if (this.#params) resetParams(this.#params, null); return; }
    if (v[0] === '?') v = v.slice(1);
    this.#u.query = '';
    basicParse(v, null, this.#u, QUERY_STATE);
    if (this.#params) resetParams(this.#params, this.#u.query);
  }
  get searchParams() { return this.#params ??= linkedParams(this.#u); }
  get hash() { const f = this.#u.fragment; return f ? '#' + f : ''; }
  set hash(v) {
    v = toUSV(v);
    if (v === '') { this.#u.fragment = null; return; }
    if (v[0] === '#') v = v.slice(1);
    this.#u.fragment = '';
    basicParse(v, null, this.#u, FRAGMENT_STATE);
  }
  toString() { return serialize(this.#u); }
  toJSON() { return serialize(this.#u); }
  [custom](depth, opts, inspect) {
    const o = {};
    for (const k of ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'searchParams', 'hash']) o[k] = this[k];
    return 'URL ' + inspect(o, opts);
  }

}
for (const k of ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'searchParams', 'hash'])
  Object.defineProperty(URL.prototype, k, { enumerable: true });

// --- application/x-www-form-urlencoded ---

function decodeForm(s) {
  if (s.includes('+')) s = s.replaceAll('+', ' ');
  if (!s.includes('%')) return s;
  try { return decodeURIComponent(s); } catch { return dec(pctDecode(s)); }
}
// parseForm parses application/x-www-form-urlencoded (a USVString) into [name, value] pairs.
export function parseForm(s) {
  const out = [];
  for (const seq of s.split('&')) {
    if (!seq) continue;
    const i = seq.indexOf('=');
    out.push(i < 0 ? [decodeForm(seq), ''] : [decodeForm(seq.slice(0, i)), decodeForm(seq.slice(i + 1))]);
  }
  return out;
}
const encodeForm = s => encodeURIComponent(s).replace(/[!'()~]|%20/g, m => m === '%20' ? '+' : hex(m.charCodeAt(0)));
const serializeForm = list => list.map(([k, v]) => encodeForm(k) + '=' + encodeForm(v)).join('&');


export class URLSearchParams {
  // #url is the URL record of the URL these params belong to (not the URL:
  // a cycle between the two would live until the engine's cycle collector
  // runs, a pause of milliseconds that walks the whole heap).
  #list = []; #url = null;
  constructor(init = '') {
    if (init === '') return;
    if (typeof init === 'object' && init !== null || typeof init === 'function') {
      if (typeof init[Symbol.iterator] === 'function') {
        for (const pair of init) {
          const p = typeof pair === 'object' && pair !== null && typeof pair[Symbol.iterator] === 'function' ? [...pair] : null;
          if (!p || p.length !== 2) throw new TypeError('URLSearchParams: each pair must be an iterable of [name, value]');
          this.#list.push([toUSV(p[0]), toUSV(p[1])]);
        }
      } else {
        for (const k of Reflect.ownKeys(init)) {
          const d = Reflect.getOwnPropertyDescriptor(init, k);
          if (typeof k === 'string' && d && d.enumerable) this.#list.push([toUSV(k), toUSV(init[k])]);
        }
      }
    } else {
      const s = toUSV(init);
      this.#list = parseForm(s[0] === '?' ? s.slice(1) : s);
    }
  }
  #update() {
    if (this.#url) { const s = serializeForm(this.#list); this.#url.query = s === '' ? null : s; }
  }
  get size() { return this.#list.length; }
  append(name, value) {
    if (arguments.length < 2) throw new TypeError('URLSearchParams.append: 2 arguments required');
    this.#list.push([toUSV(name), toUSV(value)]); this.#update();
  }
  delete(name, value) {
    name = toUSV(name);
    if (value === undefined) this.#list = this.#list.filter(e => e[0] !== name);
    else { value = toUSV(value); this.#list = this.#list.filter(e => e[0] !== name || e[1] !== value); }
    this.#update();
  }
  get(name) { name = toUSV(name); return this.#list.find(e => e[0] === name)?.[1] ?? null; }
  getAll(name) { name = toUSV(name); return this.#list.filter(e => e[0] === name).map(e => e[1]); }
  has(name, value) {
    name = toUSV(name);
    if (value === undefined) return this.#list.some(e => e[0] === name);
    value = toUSV(value);
    return this.#list.some(e => e[0] === name && e[1] === value);
  }
  set(name, value) {
    if (arguments.length < 2) throw new TypeError('URLSearchParams.set: 2 arguments required');
    name = toUSV(name); value = toUSV(value);
    const i = this.#list.findIndex(e => e[0] === name);
    if (i < 0) this.#list.push([name, value]);
    else { this.#list[i] = [name, value]; this.#list = this.#list.filter((e, j) => j <= i || e[0] !== name); }
    this.#update();
  }
  sort() {
    this.#list.sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
    this.#update();
  }
  toString() { return serializeForm(this.#list); }
  [custom](depth, opts, inspect) {
    return 'URLSearchParams ' + inspect(Object.fromEntries(this.#list.map(([k, v]) => [k, v])), opts).replace(/^\{\}$/, '{}');
  }
  static {
    linkedParams = u => {
      const p = new URLSearchParams();
      p.#url = u;
      if (u.query) p.#list = parseForm(u.query);
      return p;
    };
    resetParams = (p, query) => { p.#list = query ? parseForm(query) : []; };
    pairs = p => p.#list;
  }
}
iterable(URLSearchParams.prototype, p => pairs(p), 'URLSearchParams');
export { serializeForm };

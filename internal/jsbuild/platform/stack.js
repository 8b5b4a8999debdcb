// stack.js formats errors for the log, with their stack traces mapped back
// through the route bundle's source map to the project's files.

// Source maps by script name, decoded on first use.
const maps = new Map();

// setSourceMap keeps the source map ({ sources, mappings }) of the script
// or module named name; the init input calls it (see index.js).
export function setSourceMap(name, map) {
	maps.set(name, { sources: map.sources, mappings: map.mappings, lines: null });
}

// formatError returns an error as "Name: message" and its mapped stack, and
// its causes; anything else thrown as a string.
export function formatError(err, depth = 0) {
	const head = safeString(err);
	if (err === null || typeof err !== "object" || typeof err.stack !== "string") return head;
	let stack = err.stack;
	if (stack.startsWith(head)) stack = stack.slice(head.length); // V8 repeats the message
	stack = mapStack(stack.replace(/^\n+|\n+$/g, ""));
	let out = stack ? head + "\n" + stack : head;
	if (err.cause !== undefined && depth < 4) out += "\ncaused by: " + formatError(err.cause, depth + 1);
	return out;
}

function safeString(v) {
	try {
		return String(v);
	} catch {
		return Object.prototype.toString.call(v);
	}
}

// mapStack rewrites each "at f (file:line:col)" whose file has a source map
// to the original file:line:col.
export function mapStack(stack) {
	return stack.replace(/([( ])([^()\s]+?):(\d+)(?::(\d+))?(\)?)$/gm, (all, pre, file, line, col, post) => {
		const pos = lookup(file, +line, col === undefined ? 1 : +col);
		return pos ? pre + pos + post : all;
	});
}

// lookup maps a 1-based line and column of script file.
function lookup(file, line, col) {
	const m = maps.get(file);
	if (!m) return undefined;
	m.lines ??= decode(m.mappings);
	const segs = m.lines[line - 1];
	let best = -1;
	for (let i = 0; segs && i < segs.length && segs[i] <= col - 1; i += 4) best = i;
	if (best < 0) return undefined;
	return `${m.sources[segs[best + 1]]}:${segs[best + 2] + 1}:${segs[best + 3] + 1}`;
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// decode decodes source map mappings into one flat array per generated
// line: [genCol, source, line, col, genCol, …], all 0-based.
// See https://tc39.es/ecma426/
function decode(s) {
	const lines = [[]];
	let i = 0, gen = 0, src = 0, line = 0, col = 0;
	const vlq = () => {
		let v = 0, shift = 0, d;
		do {
			d = B64.indexOf(s[i++]);
			v += (d & 31) * 2 ** shift;
			shift += 5;
		} while (d & 32);
		return v % 2 ? -(v - 1) / 2 : v / 2;
	};
	const more = () => i < s.length && s[i] !== "," && s[i] !== ";";
	while (i < s.length) {
		if (s[i] === ";") {
			lines.push([]);
			gen = 0;
			i++;
			continue;
		}
		if (s[i] === ",") {
			i++;
			continue;
		}
		gen += vlq();
		if (!more()) continue;
		src += vlq();
		line += vlq();
		col += vlq();
		if (more()) vlq(); // name
		lines[lines.length - 1].push(gen, src, line, col);
	}
	return lines;
}

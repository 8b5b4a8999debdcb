// env.js: the global process, with process.env: the route's environment
// (env in wasmroute.json and route.json), read from the engine's env()
// native once per request, when first used.
//
// Never at initialization: whatever the module's top level computes is kept
// in the route's snapshot, and the environment may hold secrets. So at the
// top level process.env holds only NODE_ENV ("production", which libraries
// test there) and what the code itself set; the configured environment is
// seen by the handlers. A name read at the top level that the environment
// turns out to set is named in a warning on each instance's first request,
// with what to do. The configured NODE_ENV, if any, is seen by the handlers.

let host; // the engine's natives

// At initialization: NODE_ENV, then what the code sets. A request sees
// these with the environment over them.
const initVars = Object.assign(Object.create(null), { NODE_ENV: "production" });
const initReads = new Set(); // names read at initialization that initVars lacked
let warned = false;
let current = null; // this request's variables, read when first used

// vars returns the variables process.env shows now: the request's, or
// during initialization (env() is null) initVars.
function vars() {
	if (current) return current;
	const env = host.env();
	if (env === null) return initVars;
	current = Object.assign(Object.create(null), initVars, env);
	return current;
}

const initializing = (v) => v === initVars;

const env = new Proxy(Object.create(null), {
	get(_, name) {
		if (typeof name !== "string") return undefined;
		const v = vars();
		if (initializing(v) && !(name in v)) initReads.add(name);
		return v[name];
	},
	has(_, name) {
		if (typeof name !== "string") return false;
		const v = vars();
		if (initializing(v) && !(name in v)) initReads.add(name);
		return name in v;
	},
	set(_, name, value) {
		if (typeof name === "string") vars()[name] = String(value); // as Node.js does
		return true;
	},
	deleteProperty(_, name) {
		if (typeof name === "string") delete vars()[name];
		return true;
	},
	defineProperty(_, name, desc) {
		if (typeof name !== "string" || !("value" in desc)) return false;
		vars()[name] = String(desc.value);
		return true;
	},
	ownKeys() {
		return Object.keys(vars());
	},
	getOwnPropertyDescriptor(_, name) {
		const v = vars();
		if (typeof name !== "string" || !(name in v)) return undefined;
		return { value: v[name], writable: true, enumerable: true, configurable: true };
	},
});

// install defines the global process ({ env }), given the engine's natives.
export function install(h) {
	host = h;
	Object.defineProperty(globalThis, "process", { value: { env }, writable: true, configurable: true, enumerable: false });
}

// beginEnv is called as each request starts: on an instance's first, it
// warns about the variables the top level read before they were there.
export function beginEnv(log) {
	if (warned || initReads.size === 0) return;
	warned = true;
	const env = host.env() ?? {};
	const missed = [...initReads].filter((name) => name in env);
	if (missed.length === 0) return;
	const list = missed.map((n) => `process.env.${n}`).join(", ");
	log(`${list} ${missed.length > 1 ? "were" : "was"} read at the module's top level, during initialization, where ${missed.length > 1 ? "they are" : "it is"} undefined: the environment is given to requests only, so that no secret is kept in the route's snapshot. Read ${missed.length > 1 ? "them" : "it"} in the handler (or in a function it calls).`);
}

// endEnv forgets the request's variables.
export function endEnv() {
	current = null;
}

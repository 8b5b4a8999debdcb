// The platform script, evaluated before the route's bundle
// (internal/jsengine/CONTRACT.md). It installs the Web globals, keeps the
// host's natives away from route code, and registers the engine's hooks.
//
// The route's bundle is a separate module, so the next/* and wasmroute:*
// modules it imports (platform/next/*.js, platform/wasmroute/*.js, bundled
// into it) cannot import the platform's classes: they read them from global
// symbols the platform defines here, non-enumerable and frozen, so that the
// route and the dispatcher share one NextRequest class and one request state. Two more symbols are functions
// that work once: the route's bundle registers its namespace with the first
// ("wasmroute.route"), the init input hands the source map to the second
// ("wasmroute.sourcemap"); each deletes itself when called.
import { install, io, nextTimer, ready, runTimers, setStackMapper } from "./glue.js";
import * as web from "./web/index.js";
import { dispatch, init, registerRoute, report } from "./dispatch.js";
import { mapStack, setSourceMap } from "./stack.js";
import * as cache from "./next/impl/cache.js";
import * as headers from "./next/impl/headers.js";
import * as navigation from "./next/impl/navigation.js";
import * as server from "./next/impl/server.js";
import * as kv from "./wasmroute/impl/kv.js";
import * as env from "./env.js";

const host = globalThis.__wasmroute_host;
delete globalThis.__wasmroute_host;
install(host);
setStackMapper(mapStack); // console.log(err) prints the project's positions
init(host);
kv.init(host);
cache.init(host);
env.install(host); // the global process

const define = (name, value, configurable) =>
	Object.defineProperty(globalThis, Symbol.for(name), { value, configurable });
const once = (name, fn) => (...args) => {
	delete globalThis[Symbol.for(name)];
	return fn(...args);
};
define("wasmroute.next", Object.freeze({ cache, headers, navigation, server }), false);
define("wasmroute.kv", Object.freeze({ kv: kv.kv, KVError: kv.KVError }), false);
// The Web module's internals, for the platform's own tests run in the
// engine (runtime's TestJSPlatform).
define("wasmroute.web", Object.freeze({ ...web }), false);
define("wasmroute.route", once("wasmroute.route", registerRoute), true);
define("wasmroute.sourcemap", once("wasmroute.sourcemap", setSourceMap), true);

host.register({ dispatch, nextTimer, runTimers, report, io, ready });

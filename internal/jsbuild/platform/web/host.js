// The native host object (internal/jsengine/CONTRACT.md), set once by install().
export let host = null;
export function setHost(h) { host = h; }

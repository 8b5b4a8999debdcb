// I/O: the handles of outbound requests that someone waits on, which the
// engine's event loop polls besides the timers (internal/jsengine/CONTRACT.md,
// hooks io and ready).
//
// wait(handle) returns a promise that the engine resolves (ready) once the
// handle is ready: the next fetchHead or fetchBodyRead on it will not
// return ErrPending. Handles belong to the request: clearIO, called by the
// dispatcher after each request, drops the waiters (their promises never
// settle: the host has closed the handles) and starts a new generation, so
// that a fetch left over from an earlier request does not touch a handle of
// a later one that has the same number.

const NONE = Object.freeze([]);
let waiters = new Map(); // handle → resolve
let list = NONE;         // io()'s answer, made again when waiters change

// generation counts the requests ended (clearIO).
export let generation = 0;

export function wait(handle) {
  return new Promise(resolve => {
    const prev = waiters.get(handle);
    waiters.set(handle, prev ? () => { prev(); resolve(); } : resolve);
    list = null;
  });
}

// onReady calls fn (no arguments) once handle is ready, from the engine's
// ready call: wait without a promise and the job that settles it.
export function onReady(handle, fn) {
  const prev = waiters.get(handle);
  waiters.set(handle, prev ? () => { prev(); fn(); } : fn);
  list = null;
}

// forget drops the waiter of handle (closed, or its fetch aborted): its
// promise never settles.
export function forget(handle) {
  if (waiters.delete(handle)) list = null;
}

// io lists the handles waited on, oldest waiter first (the engine polls
// them in this order and answers with the first ready one: a handle that
// waits again goes to the end, so none starves).
export function io() {
  return list ??= waiters.size ? [...waiters.keys()] : NONE;
}

// ready resumes what waits on handle.
export function ready(handle) {
  const resolve = waiters.get(handle);
  if (!resolve) return;
  waiters.delete(handle);
  list = null;
  resolve();
}

export function clearIO() {
  generation++;
  if (waiters.size) {
    waiters = new Map();
    list = NONE;
  }
}

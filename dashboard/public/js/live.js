// Live stream (server-sent events) with reconnect and server-clock offset.
// The stream is lossy by design: every time it (re)opens, the page reloads its state
// over REST (onOpen), so nothing missed while disconnected stays missing.

/**
 * connectLive('/api/live', { onOpen, onDown, onPage, onIncident, onTicket })
 * Returns { serverNow(), close() }.
 */
export function connectLive(url, handlers) {
  let offset = 0; // server clock − browser clock, from the hello event
  let source = null;
  let retryTimer = null;
  let closed = false;

  function open() {
    source = new EventSource(url);
    source.addEventListener('hello', (e) => {
      const hello = JSON.parse(e.data);
      offset = hello.now - Date.now();
      handlers.onOpen?.(hello);
    });
    source.addEventListener('page', (e) => handlers.onPage?.(JSON.parse(e.data).page));
    source.addEventListener('incident', (e) => handlers.onIncident?.(JSON.parse(e.data).incident));
    source.addEventListener('ticket', (e) => handlers.onTicket?.(JSON.parse(e.data).ticket));
    source.addEventListener('error', () => {
      handlers.onDown?.();
      // EventSource retries by itself after a dropped stream, but gives up for good
      // after an HTTP error (404, 503): then retry here.
      if (source.readyState === EventSource.CLOSED && !closed && retryTimer === null) {
        retryTimer = setTimeout(() => {
          retryTimer = null;
          open();
        }, 5000);
      }
    });
  }

  open();
  return {
    serverNow: () => Date.now() + offset,
    close() {
      closed = true;
      source?.close();
      if (retryTimer !== null) clearTimeout(retryTimer);
    },
  };
}

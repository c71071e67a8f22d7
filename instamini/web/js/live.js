// One websocket per page: live messages, typing, read receipts and notifications.
//
// The browser sends the HttpOnly session cookie with the handshake, and the server
// checks the Origin, so no token is ever visible to JavaScript. Frames are JSON
// tagged by `type`. Screens subscribe with on(type, handler) and get a function that
// unsubscribes. The socket reconnects with backoff if it drops.

const handlers = new Map();
let socket = null;
let retry = 500;

export function on(type, handler) {
  if (!handlers.has(type)) handlers.set(type, new Set());
  handlers.get(type).add(handler);
  return () => handlers.get(type).delete(handler);
}

export function send(frame) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
}

export function connect() {
  if (socket) return;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws`);
  socket.onopen = () => (retry = 500);
  socket.onmessage = (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type === "ping") return send({type: "pong"});
    for (const handler of handlers.get(frame.type) || []) handler(frame);
  };
  socket.onclose = (event) => {
    socket = null;
    if (event.code === 4401 || event.code === 4403) return; // logged out, suspended or refused: do not retry
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, 15000);
  };
}

export function disconnect() {
  if (socket) {
    socket.onclose = null;
    socket.close();
    socket = null;
  }
}

// The official Node SDK's long-connection client (WSClient), driven by tests/interop/test_ws_clients.py.
//
// Environment: APP_ID, APP_SECRET, DOMAIN (the fake platform's http://127.0.0.1:port).
// Prints one JSON object per line on stdout: {"kind":"event",...} for every event a handler
// received, {"kind":"log",...} for every line the SDK logged, {"kind":"ready"} once connected.
"use strict";

const lark = require("@larksuiteoapi/node-sdk");

const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const text = (args) => args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ");
const logger = {};
for (const level of ["error", "warn", "info", "debug", "trace"]) {
  logger[level] = (...args) => out({ kind: "log", level, msg: text(args) });
}

const dispatcher = new lark.EventDispatcher({ logger }).register({
  // v2 events arrive merged: header fields and event fields side by side.
  "im.message.receive_v1": async (data) => {
    out({ kind: "event", schema: "v2", id: data.event_id, text: data.message.content });
  },
  // v1 events are keyed by event.type.
  message: async (data) => {
    out({ kind: "event", schema: "v1", id: data.uuid, text: data.text });
  },
  "interop.fail_v1": async (data) => {
    out({ kind: "event", schema: "v2", id: data.event_id, text: "failing" });
    throw new Error("handler failed on purpose");
  },
});

const client = new lark.WSClient({
  appId: process.env.APP_ID,
  appSecret: process.env.APP_SECRET,
  domain: process.env.DOMAIN,
  logger,
  loggerLevel: lark.LoggerLevel.info,
  onReady: () => out({ kind: "ready" }),
  onReconnected: () => out({ kind: "reconnected" }),
});

process.on("SIGTERM", () => {
  client.close({ force: true });
  process.exit(0);
});

client.start({ eventDispatcher: dispatcher });

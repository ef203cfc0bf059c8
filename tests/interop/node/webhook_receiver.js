// The official Node SDK's webhook receiver (adaptDefault), as its README shows it.
//
// node webhook_receiver.js, with PORT, LARK_ENCRYPT_KEY (may be empty) and
// LARK_VERIFICATION_TOKEN. Every handler prints one line
// `HANDLED {"key": <dispatch key>, "data": <what the SDK handed it>}`; callbacks answer a toast.
// /webhook/event: events, v2 callbacks, URL verification; /webhook/card: legacy card callbacks.
'use strict';
const http = require('http');
const lark = require('@larksuiteoapi/node-sdk');

const encryptKey = process.env.LARK_ENCRYPT_KEY || '';
const verificationToken = process.env.LARK_VERIFICATION_TOKEN || '';
const TOAST = { toast: { type: 'info', content: 'handled by node-sdk' } };

function report(key, data) {
  // data inherits the request headers from its prototype; only its own fields are the event.
  process.stdout.write('HANDLED ' + JSON.stringify({ key, data }) + '\n');
}

const events = [
  'im.message.receive_v1',
  'im.message.message_read_v1',
  'im.chat.member.bot.added_v1',
  'im.chat.member.bot.deleted_v1',
  'contact.user.created_v3',
  'application.bot.menu_v6',
  'message',
];
const handles = {};
for (const key of events) {
  handles[key] = async (data) => { report(key, data); };
}
handles['card.action.trigger'] = async (data) => {
  report('card.action.trigger', data);
  // {"silent": true} in the button's value: answer nothing (an empty 200), as a handler that
  // forgets to return does.
  const value = (data.action && data.action.value) || {};
  return value.silent ? undefined : TOAST;
};
handles['url.preview.get'] = async (data) => {
  report('url.preview.get', data);
  return { inline: { title: 'handled by node-sdk' } };
};

const dispatcher = new lark.EventDispatcher({ encryptKey, verificationToken, loggerLevel: lark.LoggerLevel.warn });
dispatcher.unregister('app_ticket'); // replace the built-in ticket cache with a reporting handle
handles.app_ticket = async (data) => { report('app_ticket', data); };
dispatcher.register(handles);

const cards = new lark.CardActionHandler(
  { encryptKey, verificationToken, loggerLevel: lark.LoggerLevel.warn },
  async (data) => { report('legacy_card', data); return TOAST; },
);

const onEvent = lark.adaptDefault('/webhook/event', dispatcher, { autoChallenge: true });
const onCard = lark.adaptDefault('/webhook/card', cards, { autoChallenge: true });

http.createServer((req, res) => {
  const done = (p) => p.catch((err) => {
    process.stdout.write('ERROR ' + String(err && err.message) + '\n');
    res.statusCode = 500;
    res.end();
  });
  if (req.url === '/webhook/event') return done(onEvent(req, res));
  if (req.url === '/webhook/card') return done(onCard(req, res));
  res.statusCode = 404;
  res.end();
}).listen(Number(process.env.PORT), '127.0.0.1');

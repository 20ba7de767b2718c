// A Laravel page's real-time part, as Laravel's docs write it: Laravel Echo with pusher-js,
// listening on a private channel and a presence channel, authorized by the app's endpoint.
import Echo from "laravel-echo";
import Pusher from "pusher-js";

const params = new URLSearchParams(location.search);
const show = (id, text) => (document.getElementById(id).textContent = text);

window.Pusher = Pusher;
const echo = new Echo({
  broadcaster: "pusher",
  key: params.get("key"),
  cluster: "herald",
  wsHost: location.hostname,
  wsPort: Number(params.get("wsPort")),
  forceTLS: false,
  enabledTransports: ["ws"],
  authEndpoint: "/broadcasting/auth",
  auth: { headers: { "X-User": params.get("user") } },
});

echo.connector.pusher.connection.bind("state_change", (states) => show("state", states.current));

echo.private("orders.7").listen("OrderShipped", (event) => show("order", JSON.stringify(event)));

const members = new Map();
const showMembers = () => show("members", [...members.values()].sort().join(","));
echo
  .join("room.1")
  .here((users) => {
    for (const user of users) members.set(user.id, user.name);
    showMembers();
  })
  .joining((user) => {
    members.set(user.id, user.name);
    showMembers();
  })
  .leaving((user) => {
    members.delete(user.id);
    showMembers();
  })
  .listen(".chat-message", (event) => show("chat", event.text));

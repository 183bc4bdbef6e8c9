import { render } from "preact";
import { Controller } from "./controller";
import { LibraryController } from "./library/controller";
import "./styles.css";
import { App } from "./ui/App";

/** `#/t/<thread id>` names the open thread, so a reload (or a shared link) reopens it. */
function threadFromHash(): string | null {
  const match = /^#\/t\/(.+)$/.exec(location.hash);
  return match ? decodeURIComponent(match[1]) : null;
}

const controller = new Controller();
const library = new LibraryController(controller.client, {
  onChange: () => void controller.loadStatus(),
});
let shown = threadFromHash();

/** `#/library` shows the Library in place of the chat. */
function route(): void {
  if (location.hash === "#/library") void library.open();
  else library.close();
}

controller.store.subscribe(() => {
  const id = controller.state.chat.thread?.id ?? null;
  if (id === shown) return;
  shown = id;
  if (threadFromHash() === id) return;
  const url = id ? `#/t/${encodeURIComponent(id)}` : `${location.pathname}${location.search}`;
  history.replaceState(null, "", url);
});

window.addEventListener("hashchange", () => {
  route();
  const id = threadFromHash();
  if (id) void controller.openThread(id);
  else if (location.hash === "" || location.hash === "#/") controller.newChat();
});

render(
  <App controller={controller} library={library} />,
  document.getElementById("app") as HTMLElement,
);
route();
void controller.init(shown);

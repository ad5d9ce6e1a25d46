/**
 * The web console's entry: login (admin token in sessionStorage) and a hash
 * router over the views. Each view renders into #view and may return a
 * cleanup (close a socket, stop a stream) run when the user navigates away.
 * The terminal is the exception: it is kept, hidden, while the user visits
 * other views, because closing its socket would end the console session
 * (`user_disconnected`); it goes only at logout.
 */
import "@xterm/xterm/css/xterm.css";
import "../console.css";
import { ApiProblem, adminToken, api, describeError, forgetToken, rememberToken } from "./api";
import { renderDevices } from "./devices";
import { errorBox, h } from "./dom";
import { renderFleet, renderHost } from "./fleet";
import { renderMigration, renderMigrations } from "./migrations";
import { renderRecordings } from "./recordings";
import { renderTerminal } from "./terminal";

/** What a view gets: where to draw, and the route's parameters. */
type View = (root: HTMLElement, params: string[]) => Promise<(() => void) | undefined>;

const routes: Array<[RegExp, View]> = [
	[/^#\/fleet$/, renderFleet],
	[/^#\/hosts\/([^/]+)$/, renderHost],
	[/^#\/terminal$/, renderTerminal],
	[/^#\/recordings$/, renderRecordings],
	[/^#\/migrations$/, renderMigrations],
	[/^#\/migrations\/([^/]+)$/, renderMigration],
	[/^#\/devices$/, renderDevices],
];

/** Views kept mounted (hidden) while another is shown, with their container and cleanup. */
const keptViews = new Set<View>([renderTerminal]);
const mounted = new Map<View, { container: HTMLElement; cleanup?: () => void }>();

let cleanup: (() => void) | undefined;
let renderSequence = 0;

/** Shows `element` in `root`: kept views stay there hidden, anything else goes. */
function show(root: HTMLElement, element: HTMLElement): void {
	const kept = new Set([...mounted.values()].map((view) => view.container));
	for (const child of [...root.children]) {
		if (child instanceof HTMLElement && kept.has(child)) child.hidden = child !== element;
		else if (child !== element) child.remove();
	}
	if (element.parentElement !== root) root.append(element);
}

/** Ends the kept views (logout, or the token was refused). */
function unmountKeptViews(): void {
	for (const view of mounted.values()) view.cleanup?.();
	mounted.clear();
}

async function route(): Promise<void> {
	const root = document.getElementById("view") as HTMLElement;
	const nav = document.getElementById("nav") as HTMLElement;
	cleanup?.();
	cleanup = undefined;
	const sequence = ++renderSequence;
	if (!adminToken()) {
		unmountKeptViews();
		nav.hidden = true;
		root.replaceChildren(loginForm());
		return;
	}
	nav.hidden = false;
	const hash = location.hash || "#/fleet";
	const path = hash.split("?")[0] ?? "";
	const matched = routes
		.map(([pattern, view]) => [pattern.exec(path), view] as const)
		.find(([match]) => match !== null);
	const view = matched?.[1] ?? renderFleet;
	const params = (matched?.[0]?.slice(1) ?? []).map((param) => decodeURIComponent(param));
	for (const link of nav.querySelectorAll("a")) {
		link.classList.toggle("active", path.startsWith(link.getAttribute("href") ?? "-"));
	}
	const kept = mounted.get(view);
	if (kept) {
		show(root, kept.container);
		return;
	}
	// Each render draws into its own container: a slower, superseded render
	// then fills a detached element instead of overwriting the current view.
	const container = h("div", { class: "view" }, h("p", { class: "muted" }, "Loading…"));
	show(root, container);
	try {
		const done = await view(container, params);
		if (sequence !== renderSequence) done?.();
		else if (keptViews.has(view)) mounted.set(view, { container, cleanup: done });
		else cleanup = done;
	} catch (error) {
		if (sequence !== renderSequence) return;
		if (error instanceof ApiProblem && error.code === "unauthorized") {
			forgetToken();
			return route();
		}
		container.replaceChildren(errorBox(describeError(error)));
	}
}

/** The login form: the token is checked against an admin route before it is kept. */
function loginForm(): HTMLElement {
	const input = h("input", {
		type: "password",
		name: "token",
		autocomplete: "off",
		required: true,
		placeholder: "admin token",
	});
	const message = h("div");
	const form = h(
		"form",
		{ class: "login", id: "login" },
		h("h1", {}, "Sign in"),
		h("p", { class: "muted" }, "The admin token npm run dev printed. Kept for this tab only."),
		input,
		h("button", { type: "submit" }, "Sign in"),
		message,
	);
	form.addEventListener("submit", async (event) => {
		event.preventDefault();
		message.replaceChildren();
		try {
			// Checked with this token, not a remembered one.
			await api.GET("/v1/hosts", { headers: { Authorization: `Bearer ${input.value}` } });
			rememberToken(input.value);
			if (!location.hash) location.hash = "#/fleet";
			await route();
		} catch (error) {
			message.replaceChildren(errorBox(describeError(error)));
		}
	});
	return form;
}

document.getElementById("logout")?.addEventListener("click", () => {
	forgetToken();
	void route();
});
window.addEventListener("hashchange", () => void route());
void route();

/**
 * A tiny element builder. Text always goes through text nodes and attributes
 * through setAttribute, never innerHTML, so API data cannot become markup.
 */

type Child = Node | string | number | null | undefined | false;
type Attributes = Record<string, string | number | boolean | undefined | EventListener>;

/** Creates an element; `on…` attributes with a function become event listeners. */
export function h<K extends keyof HTMLElementTagNameMap>(
	tag: K,
	attributes: Attributes = {},
	...children: Child[]
): HTMLElementTagNameMap[K] {
	const element = document.createElement(tag);
	for (const [name, value] of Object.entries(attributes)) {
		if (value === undefined || value === false) continue;
		if (typeof value === "function") element.addEventListener(name.slice(2).toLowerCase(), value);
		else element.setAttribute(name, value === true ? "" : String(value));
	}
	append(element, ...children);
	return element;
}

/** Appends children, turning strings and numbers into text nodes. */
function append(parent: Node, ...children: Child[]): void {
	for (const child of children) {
		if (child === null || child === undefined || child === false) continue;
		parent.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
	}
}

/** A table with a header row and one row per item. */
export function table<T>(
	columns: Array<{ title: string; cell: (item: T) => Child }>,
	items: T[],
	attributes: Attributes = {},
): HTMLTableElement {
	return h(
		"table",
		attributes,
		h("thead", {}, h("tr", {}, ...columns.map((column) => h("th", {}, column.title)))),
		h(
			"tbody",
			{},
			...items.map((item) =>
				h("tr", {}, ...columns.map((column) => h("td", {}, column.cell(item)))),
			),
		),
	);
}

/** A problem shown in place (role=alert so tests and screen readers find it). */
export function errorBox(message: string): HTMLElement {
	return h("p", { class: "error", role: "alert" }, message);
}

/** Formats a byte count for people. */
export function formatBytes(bytes: number): string {
	if (bytes < 1024) return `${bytes} B`;
	if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
	return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** A short local time for an ISO string (or a dash). */
export function formatTime(iso: string | null | undefined): string {
	if (!iso) return "—";
	const date = new Date(iso);
	return Number.isNaN(date.getTime()) ? iso : date.toLocaleTimeString();
}

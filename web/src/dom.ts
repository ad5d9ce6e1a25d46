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

/**
 * A table with a header row and one row per item, in a container that
 * scrolls sideways: on a narrow window the table scrolls, not the page.
 */
export function table<T>(
	columns: Array<{ title: string; cell: (item: T) => Child }>,
	items: T[],
	attributes: Attributes = {},
): HTMLElement {
	return h(
		"div",
		{ class: "table-scroll" },
		h(
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
		),
	);
}

/**
 * An identifier on one line, cut with an ellipsis when its column is narrow;
 * the whole id stays in the text (copy, search) and in the tooltip.
 */
export function idText(id: string): HTMLElement {
	return h("code", { class: "id", title: id }, id);
}

/** A short value (a time, a size) kept on one line in a narrow column. */
export function unbroken(text: string): HTMLElement {
	return h("span", { class: "unbroken" }, text);
}

/** A problem shown in place (role=alert so tests and screen readers find it). */
export function errorBox(message: string): HTMLElement {
	return h("p", { class: "error", role: "alert" }, message);
}

/**
 * A device's per-VF timeline: one lane per VF index, holds drawn as segments
 * from `mapping.held` to `mapping.lifted` labelled with the hold's duration,
 * every other event as a tick, and the events listed under the lane. The axis
 * is the device's event order, not wall time: a hold lasts milliseconds on a
 * device that lives for days, so a linear time axis would hide every hold.
 * Being not to scale, it says so, with the span of time it covers.
 */
import { h } from "./dom";
import { formatTime } from "./format";
import type { DeviceEventRecord } from "./types";

/** The timeline of a device's events (the route answers newest first). */
export function vfTimeline(events: DeviceEventRecord[]): HTMLElement {
	const ordered = [...events].sort((a, b) => a.id - b.id);
	if (ordered.length === 0) return h("p", { class: "muted" }, "No events yet.");
	const slot = new Map(ordered.map((event, index) => [event.id, index]));
	// Percent along the lane, with a margin so the first and last ticks stay inside.
	const at = (event: DeviceEventRecord) =>
		4 + ((slot.get(event.id) ?? 0) / Math.max(1, ordered.length - 1)) * 92;
	const lanes = new Map<number, DeviceEventRecord[]>();
	for (const event of ordered) {
		const vf = event.vfIndex ?? -1;
		lanes.set(vf, [...(lanes.get(vf) ?? []), event]);
	}
	const first = ordered[0]?.at;
	const last = ordered[ordered.length - 1]?.at;
	return h(
		"div",
		{ class: "timeline" },
		h(
			"p",
			{ class: "axis muted" },
			`Events in order, evenly spaced (not to time scale), ${formatTime(first)} – ${formatTime(last)}; hold lengths as measured.`,
		),
		...[...lanes.entries()]
			.sort(([a], [b]) => a - b)
			.map(([vfIndex, laneEvents]) => {
				const track = h("div", { class: "track" });
				let heldAt: DeviceEventRecord | undefined;
				for (const event of laneEvents) {
					if (event.type === "mapping.held") heldAt = event;
					if (event.type === "mapping.lifted" && heldAt) {
						track.append(
							h(
								"div",
								{
									class: "hold",
									style: `left: ${at(heldAt)}%; width: ${at(event) - at(heldAt)}%`,
									title: `hold ${event.durationMs ?? "?"} ms`,
								},
								`hold ${event.durationMs ?? "?"} ms`,
							),
						);
						heldAt = undefined;
					}
					track.append(
						h("div", {
							class: `tick ${event.type.replace(".", "-")}`,
							style: `left: ${at(event)}%`,
							title: `${event.type} at ${formatTime(event.at)}`,
						}),
					);
				}
				return h(
					"div",
					{ class: "lane", "data-vf": vfIndex },
					h("span", { class: "name" }, vfIndex === -1 ? "device" : `VF ${vfIndex}`),
					track,
					h(
						"ol",
						{ class: "events" },
						...laneEvents.map((event) =>
							h(
								"li",
								{ "data-type": event.type },
								h("code", {}, event.type),
								event.type === "mapping.lifted" && event.durationMs !== null
									? ` held ${event.durationMs} ms`
									: "",
								event.mappingVersion !== null ? ` · v${event.mappingVersion}` : "",
								` · ${formatTime(event.at)}`,
							),
						),
					),
				);
			}),
	);
}

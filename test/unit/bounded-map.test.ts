// Proves the bounded map against a model: never more than its capacity,
// the most recently set keys always kept with their latest values, deleted
// keys gone. Does not prove anything about the domain that uses it.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BoundedMap } from "../../shared/bounded-map";

const operation = fc.oneof(
	fc.record({ kind: fc.constant("set" as const), key: fc.nat(20), value: fc.integer() }),
	fc.record({ kind: fc.constant("delete" as const), key: fc.nat(20) }),
);

describe("BoundedMap", () => {
	it("keeps exactly the most recently set live keys, up to its capacity", () => {
		fc.assert(
			fc.property(fc.integer({ min: 1, max: 8 }), fc.array(operation), (capacity, operations) => {
				const map = new BoundedMap<number, number>(capacity);
				// The model: live keys in order of their last set, with their values.
				let model: Array<[number, number]> = [];
				for (const op of operations) {
					model = model.filter(([key]) => key !== op.key);
					if (op.kind === "set") {
						map.set(op.key, op.value);
						model.push([op.key, op.value]);
						if (model.length > capacity) model.shift();
					} else {
						map.delete(op.key);
					}
					expect(map.size).toBeLessThanOrEqual(capacity);
				}
				expect(map.size).toBe(model.length);
				for (let key = 0; key <= 20; key++)
					expect(map.get(key)).toBe(model.find(([live]) => live === key)?.[1]);
			}),
		);
	});

	it("refuses a capacity below one", () => {
		expect(() => new BoundedMap(0)).toThrow(RangeError);
	});
});

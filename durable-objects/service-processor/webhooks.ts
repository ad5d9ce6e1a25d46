import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { digestsEqual } from "../../shared/crypto";
import type { JsonData } from "../../shared/json";
import { Problem } from "../../shared/problem";

/**
 * Standard Webhooks verification with the host's secret, and the record of
 * seen `webhook-id`s that makes a repeated delivery a no-op.
 */

/** How long a webhook id is remembered: past the ±300 s tolerance, a replay is stale anyway. */
export const webhookIdRetentionMs = 15 * 60 * 1000;

/** A verified webhook. */
export interface VerifiedWebhook {
	duplicate: boolean;
	event: { type: string; data: JsonData };
}

/** Verifies signature and timestamp, then records the id; throws `invalid_signature` or `stale_timestamp`. */
export function verifyWebhook(
	sql: SqlStorage,
	secret: string,
	headers: Record<string, string>,
	rawBody: string,
): VerifiedWebhook {
	const webhook = new Webhook(secret);
	let payload: unknown;
	try {
		payload = webhook.verify(rawBody, headers);
	} catch (error) {
		if (
			error instanceof WebhookVerificationError &&
			/timestamp too (old|new)/.test(error.message)
		) {
			// The library checks the timestamp first; a stranger must not learn
			// the tolerance, so only a sender who signed correctly hears "stale".
			if (!signedBy(webhook, headers, rawBody)) {
				throw new Problem("invalid_signature", "webhook signature missing or wrong");
			}
			throw new Problem("stale_timestamp", "webhook-timestamp is more than 300 s off");
		}
		if (error instanceof SyntaxError) {
			throw new Problem("invalid_request", "webhook body is not JSON");
		}
		throw new Problem("invalid_signature", "webhook signature missing or wrong");
	}
	const { type, data } = (payload ?? {}) as { type?: unknown; data?: JsonData };
	if (typeof type !== "string") throw new Problem("invalid_request", "body.type: required string");
	const webhookId = Object.entries(headers).find(
		([name]) => name.toLowerCase() === "webhook-id",
	)?.[1];
	const nowMs = Date.now();
	sql.exec("DELETE FROM webhook_ids WHERE seen_ms < ?", nowMs - webhookIdRetentionMs);
	const inserted = sql.exec(
		"INSERT INTO webhook_ids (id, seen_ms) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
		webhookId ?? "",
		nowMs,
	).rowsWritten;
	return { duplicate: inserted === 0, event: { type, data: data ?? null } };
}

/** Whether one of the `webhook-signature` entries is the library's signature of this delivery. */
function signedBy(webhook: Webhook, headers: Record<string, string>, rawBody: string): boolean {
	const header = (name: string) => headers[name] ?? "";
	const timestampSeconds = Number(header("webhook-timestamp"));
	if (header("webhook-id") === "" || !Number.isSafeInteger(timestampSeconds)) return false;
	const expected = webhook.sign(header("webhook-id"), new Date(timestampSeconds * 1000), rawBody);
	return header("webhook-signature")
		.split(" ")
		.some((signature) => digestsEqual(signature, expected));
}

/**
 * Forgets a recorded `webhook-id`, so that an agent's retry of a delivery we
 * failed to apply is applied rather than taken for a duplicate.
 */
export function forgetWebhook(sql: SqlStorage, webhookId: string): void {
	sql.exec("DELETE FROM webhook_ids WHERE id = ?", webhookId);
}

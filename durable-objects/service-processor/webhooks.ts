import { Webhook, WebhookVerificationError } from "standardwebhooks";
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
	let payload: unknown;
	try {
		payload = new Webhook(secret).verify(rawBody, headers);
	} catch (error) {
		if (
			error instanceof WebhookVerificationError &&
			/timestamp too (old|new)/.test(error.message)
		) {
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

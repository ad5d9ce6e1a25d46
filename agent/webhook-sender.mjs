// @ts-check
// Posts agent webhooks to `POST /v1/hosts/{hostId}/webhooks`, signed per the
// Standard Webhooks spec with the host's `whsec_` secret. A delivery that
// fails on the network or with a 5xx is retried with the same `webhook-id`
// (the server dedupes by it); a 4xx is final.
import { randomUUID } from "node:crypto";
import { Webhook } from "standardwebhooks";

const retryDelaysMs = [250, 1000, 3000, 8000];

/**
 * @typedef {object} WebhookDelivery
 * @property {string} webhookId
 * @property {string} type
 * @property {unknown} data
 * @property {number} status HTTP status of the last attempt, 0 when the network failed
 * @property {boolean} ok whether the server accepted it (2xx)
 */

/**
 * @param {{baseUrl: string, hostId: string, webhookSecret: string, isStopped?: () => boolean}} options
 */
export function createWebhookSender({ baseUrl, hostId, webhookSecret, isStopped = () => false }) {
	const signer = new Webhook(webhookSecret);
	const url = new URL(`/v1/hosts/${encodeURIComponent(hostId)}/webhooks`, baseUrl);

	/**
	 * Signs and posts one event; resolves with the outcome, never rejects.
	 * @param {string} type
	 * @param {unknown} data
	 * @returns {Promise<WebhookDelivery>}
	 */
	return async function sendWebhook(type, data) {
		const webhookId = `msg_${randomUUID()}`;
		const body = JSON.stringify({ type, data });
		let status = 0;
		for (let attempt = 0; ; attempt += 1) {
			// Signed per attempt: a retry hours later must not carry a stale timestamp.
			const timestamp = new Date();
			try {
				const response = await fetch(url, {
					method: "POST",
					headers: {
						"Content-Type": "application/json",
						"webhook-id": webhookId,
						"webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
						"webhook-signature": signer.sign(webhookId, timestamp, body),
					},
					body,
				});
				status = response.status;
				await response.body?.cancel();
				if (status < 500) return { webhookId, type, data, status, ok: status < 300 };
			} catch {
				status = 0;
			}
			const delayMs = retryDelaysMs[attempt];
			if (delayMs === undefined || isStopped()) return { webhookId, type, data, status, ok: false };
			await new Promise((resolve) => setTimeout(resolve, delayMs));
		}
	};
}

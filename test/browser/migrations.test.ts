// Proves the Migrations view's operator controls against the simulated fleet:
// the start form defaults to a connected host other than the VM's own (never
// offering the VM's own host, whatever host is newest), a running migration
// is cancelled from its page, and risk scores are written to one decimal.
// Each test starts from its own VM and host; none depends on another's order.
// Does not prove the cancel's effect on the agent (the e2e tests do).
import { describe, expect, it } from "vitest";
import {
	adminApi,
	baseUrl,
	chromiumPath,
	registerHostWithoutAgent,
	sharedBrowser,
	signedInPage,
} from "./support";

type Host = { hostId: string; agentConnected: boolean };
type DryRun = { assessment: { rules: Array<{ score: number }> } };

describe.skipIf(!chromiumPath)("migrations view", () => {
	const browser = sharedBrowser();

	it("defaults the target to a connected host other than the VM's own, and never offers its own", async () => {
		const disconnected = await registerHostWithoutAgent("spare");
		const { body } = await adminApi<{ hosts: Host[] }>("GET", "/v1/hosts");
		expect(body.hosts[0]?.hostId).toBe(disconnected);
		const connected = new Set(
			body.hosts.filter((host) => host.agentConnected).map((host) => host.hostId),
		);
		const page = await signedInPage(browser());
		try {
			await page.goto(`${baseUrl}/console#/migrations?vm=web-1`);
			const target = page.locator("#start-migration select[name=targetHostId]");
			await target.locator("option").first().waitFor({ state: "attached" });
			const offered = async () =>
				target.locator("option").evaluateAll((options) => options.map((option) => option.value));
			expect(await offered()).not.toContain("fra1-h1");
			expect(await offered()).toContain(disconnected);
			expect(connected.has(await target.inputValue())).toBe(true);
			expect(await target.locator(`option[value='${disconnected}']`).textContent()).toContain(
				"agent disconnected",
			);
			// Another VM, on another host: the choices follow it.
			await page.locator("#start-migration select[name=vmId]").selectOption("api-2");
			expect(await offered()).not.toContain("ams1-h1");
			expect(await offered()).toContain("fra1-h1");
			expect(connected.has(await target.inputValue())).toBe(true);
		} finally {
			await page.close();
		}
	});

	it("cancels a running migration from its page", async () => {
		const page = await signedInPage(browser());
		try {
			// 128 GiB: the simulated copy takes about a minute, ample time to cancel.
			await page.goto(`${baseUrl}/console#/migrations?vm=ml-lab-1`);
			await page.locator("#start-migration select[name=targetHostId]").selectOption("ams1-h2");
			await page.locator("#start-migration button[type=submit]").click();
			await page.waitForURL(/#\/migrations\/[^/]+$/);
			const migrationId = decodeURIComponent(page.url().split("/").pop() ?? "");
			await page.getByRole("button", { name: "Cancel migration" }).click();
			await page.locator("#migration-state", { hasText: "cancelled" }).waitFor();
			await page.getByRole("button", { name: "Cancel migration" }).waitFor({ state: "hidden" });
			const { body } = await adminApi<{ state: string }>(
				"GET",
				`/v1/migrations/${encodeURIComponent(migrationId)}`,
			);
			expect(body.state).toBe("cancelled");
		} finally {
			await page.close();
		}
	});

	it("writes risk scores to one decimal", async () => {
		// The check means something only if some score has more decimals than that.
		const { body } = await adminApi<DryRun>("POST", "/v1/migrations", {
			vmId: "db-2",
			targetHostId: "fra1-h1",
			dryRun: true,
		});
		expect(body.assessment.rules.some((rule) => !Number.isInteger(rule.score * 10))).toBe(true);
		const page = await signedInPage(browser());
		try {
			await page.goto(`${baseUrl}/console#/migrations?vm=db-2`);
			await page.locator("#start-migration select[name=targetHostId]").selectOption("fra1-h1");
			await page.locator("#start-migration input[name=dryRun]").check();
			await page.locator("#start-migration button[type=submit]").click();
			const rules = page.locator("#migration-result .risk .rule");
			await rules.first().waitFor();
			const oneDecimal = /^\d+(\.\d)? \/ \d+(\.\d)?/;
			for (const text of await rules.locator(".numbers").allTextContents()) {
				expect(text).toMatch(oneDecimal);
			}
			for (const title of await rules
				.locator(".bar")
				.evaluateAll((bars) => bars.map((bar) => bar.getAttribute("title")))) {
				expect(title).toMatch(/^score \d+(\.\d)? \/ threshold \d+(\.\d)?$/);
			}
		} finally {
			await page.close();
		}
	});
});

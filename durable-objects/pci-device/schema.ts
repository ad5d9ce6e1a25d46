/**
 * SQLite schema of a PciDevice; `schema[i]` takes it from version i to i + 1
 * (applied by ../sql.ts `migrateSchema`).
 *
 * Addresses are stored as hex text; `mappings.address_key` is the virtual
 * address as 16 zero-padded hex digits so that the primary-key order is the
 * numeric order and a translate is one indexed `<=` lookup.
 */
/** Schema steps of a PciDevice. */
export const schema: ReadonlyArray<string> = [
	`CREATE TABLE device (
		singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
		host_id TEXT NOT NULL, bdf TEXT NOT NULL,
		vendor_id INTEGER NOT NULL, device_id INTEGER NOT NULL,
		total_vfs INTEGER NOT NULL, first_vf_offset INTEGER NOT NULL, vf_stride INTEGER NOT NULL,
		vf_bar_base TEXT NOT NULL, vf_bar_size TEXT NOT NULL,
		created_at TEXT NOT NULL, updated_at TEXT NOT NULL
	);
	CREATE TABLE slots (
		vf_index INTEGER PRIMARY KEY,
		allocation_id TEXT NOT NULL UNIQUE,
		vm_id TEXT NOT NULL, virtual_address TEXT NOT NULL,
		owner_host_id TEXT NOT NULL, owner_bdf TEXT NOT NULL,
		state TEXT NOT NULL CHECK (state IN ('active', 'reserved')),
		created_at TEXT NOT NULL
	);
	CREATE TABLE mappings (
		address_key TEXT PRIMARY KEY,
		virtual_address TEXT NOT NULL, size TEXT NOT NULL, vm_id TEXT NOT NULL,
		target_host_id TEXT NOT NULL, target_bdf TEXT NOT NULL, target_vf_index INTEGER NOT NULL,
		target_allocation_id TEXT NOT NULL,
		offset TEXT NOT NULL,
		state TEXT NOT NULL CHECK (state IN ('active', 'held')),
		version INTEGER NOT NULL,
		hold_transfer_id TEXT
	);
	CREATE TABLE transfers (
		transfer_id TEXT PRIMARY KEY,
		address_key TEXT NOT NULL,
		step TEXT NOT NULL CHECK (step IN ('reserving', 'reserved', 'held', 'lifted', 'completed', 'rolled_back')),
		from_host_id TEXT NOT NULL, from_bdf TEXT NOT NULL, from_vf_index INTEGER NOT NULL,
		from_allocation_id TEXT NOT NULL,
		to_host_id TEXT NOT NULL, to_bdf TEXT NOT NULL,
		to_vf_index INTEGER, to_vf_bdf TEXT, to_base TEXT, offset TEXT, mapping_version INTEGER,
		started_ms INTEGER NOT NULL, hold_started_ms INTEGER, deadline_ms INTEGER NOT NULL,
		finished_ms INTEGER
	);
	CREATE INDEX transfers_open ON transfers (step) WHERE step NOT IN ('completed', 'rolled_back');
	CREATE TABLE events (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		type TEXT NOT NULL, at TEXT NOT NULL,
		vf_index INTEGER, virtual_address TEXT, transfer_id TEXT,
		duration_ms REAL, mapping_version INTEGER
	);
	CREATE TABLE outbox (
		seq INTEGER PRIMARY KEY AUTOINCREMENT,
		channel TEXT NOT NULL, payload TEXT NOT NULL,
		attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER NOT NULL
	);
	CREATE TABLE directory (bdf TEXT PRIMARY KEY);`,
	// A reservation made for an incoming transfer expires unless the transfer settles it.
	"ALTER TABLE slots ADD COLUMN reserved_until_ms INTEGER",
	// The size of the mapping a transferred-in function serves (its BAR may be larger).
	"ALTER TABLE slots ADD COLUMN mapping_size TEXT",
	// A host's device index moved to its HostDevices object (../host-devices.ts).
	"DROP TABLE directory",
	// The outbox became every object's (../outbox.ts), which names a channel its lane.
	"ALTER TABLE outbox RENAME COLUMN channel TO lane",
];

import Crypto
public import Foundation
import Synchronization
import TendCore

/// Master keys live outside the database (an environment variable or a 0600 key file).
/// Each key has an id; the last one is active for new ciphertexts, older ones still decrypt.
public struct KeyRing: Sendable {
    public struct Key: Sendable {
        public let id: String
        let material: SymmetricKey
        /// The AES key derived from the material, computed once.
        let encryption: SymmetricKey

        init(id: String, material: SymmetricKey) {
            self.id = id
            self.material = material
            self.encryption = HKDF<SHA256>.deriveKey(inputKeyMaterial: material, info: Data("tend-field-encryption-v1".utf8), outputByteCount: 32)
        }
    }

    public let keys: [Key]
    public var active: Key { keys[keys.count - 1] }

    public init(keys: [Key]) throws(KeyRingError) {
        guard !keys.isEmpty else { throw KeyRingError(description: "the key ring holds no key / 密钥环为空") }
        self.keys = keys
    }

    /// Parses `id:base64` entries separated by commas or new lines.
    public static func parse(_ text: String, source: String) throws(KeyRingError) -> KeyRing {
        var keys: [Key] = []
        let entries = text.split(whereSeparator: { $0 == "," || $0 == "\n" }).map { $0.trimmed }
        for entry in entries where !entry.isEmpty && !entry.hasPrefix("#") {
            let parts = entry.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, parts[0].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                throw KeyRingError(description: "\(source): each key must be written id:base64 / 密钥格式应为 id:base64")
            }
            guard let data = Data(base64Encoded: parts[1]), data.count == 32 else {
                throw KeyRingError(description: "\(source): key \(parts[0]) is not 32 bytes of base64 / 密钥 \(parts[0]) 不是 32 字节 base64")
            }
            guard !keys.contains(where: { $0.id == parts[0] }) else {
                throw KeyRingError(description: "\(source): key id \(parts[0]) appears twice / 密钥 id 重复")
            }
            keys.append(Key(id: parts[0], material: SymmetricKey(data: data)))
        }
        return try KeyRing(keys: keys)
    }

    public static func generateKeyLine(id: String) -> String {
        "\(id):\(SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString())"
    }

    /// Reads the key file, or creates it with one new key (mode 0600) when `create` is set.
    public static func loadFile(at path: String, create: Bool) throws(KeyRingError) -> KeyRing {
        let manager = FileManager.default
        if !manager.fileExists(atPath: path) {
            guard create else {
                throw KeyRingError(description: "master key file \(path) does not exist; set TEND_MASTER_KEY or --key-file / 主密钥文件不存在")
            }
            let line = generateKeyLine(id: "k1") + "\n"
            guard manager.createFile(atPath: path, contents: Data(line.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw KeyRingError(description: "cannot create master key file \(path) / 无法创建主密钥文件")
            }
        }
        guard let data = manager.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw KeyRingError(description: "cannot read master key file \(path) / 无法读取主密钥文件")
        }
        return try parse(text, source: path)
    }

    func key(id: String) -> Key? { keys.first { $0.id == id } }

    /// The key blind indexes are computed under. It derives from the first key so that
    /// indexes stay valid across rotations of the encryption key.
    var blindIndexKey: SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: keys[0].material, info: Data("tend-blind-index-v1".utf8), outputByteCount: 32)
    }

    func encryptionKey(_ key: Key) -> SymmetricKey { key.encryption }
}

public struct KeyRingError: Error, CustomStringConvertible {
    public var description: String
}

/// The key ring in use, re-read from its key file when the file changes (checked at most
/// every two seconds) or when a ciphertext names a key not yet known, so that running
/// servers follow `tend keys rotate` without a restart.
public final class KeyRingSource: Sendable {
    private struct Loaded {
        var ring: KeyRing
        var modified: Date?
        var lastCheck = ContinuousClock.now
    }

    private let path: String?
    private let loaded: Mutex<Loaded>

    public init(ring: KeyRing, path: String? = nil) {
        self.path = path
        let modified = path.flatMap { try? FileManager.default.attributesOfItem(atPath: $0)[.modificationDate] as? Date }
        self.loaded = Mutex(Loaded(ring: ring, modified: modified))
    }

    public var current: KeyRing {
        loaded.withLock { loaded in
            if path != nil, ContinuousClock.now - loaded.lastCheck > .seconds(2) { reloadIfChanged(&loaded, force: false) }
            return loaded.ring
        }
    }

    /// The ring after re-reading the file, for a ciphertext under an unknown key.
    func refreshed() -> KeyRing {
        loaded.withLock { loaded in
            reloadIfChanged(&loaded, force: true)
            return loaded.ring
        }
    }

    private func reloadIfChanged(_ loaded: inout Loaded, force: Bool) {
        loaded.lastCheck = ContinuousClock.now
        guard let path else { return }
        let stamp = try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date
        guard force || stamp != loaded.modified, let reloaded = try? KeyRing.loadFile(at: path, create: false) else { return }
        loaded.modified = stamp
        loaded.ring = reloaded
    }
}

/// Where a sealed field lives: its program, table, column and row. It is bound into the
/// ciphertext as AES-GCM associated data, so a ciphertext copied to another row, column,
/// table or program no longer opens.
public struct SealContext: Sendable, Equatable {
    public var program: String
    public var table: String
    public var column: String
    public var row: String

    public init(program: String, table: String, column: String, row: String) {
        self.program = program
        self.table = table
        self.column = column
        self.row = row
    }

    var associatedData: Data { Data(["tend-field-v2", program, table, column, row].joined(separator: "\u{1F}").utf8) }
}

public struct FieldCipherError: Error, CustomStringConvertible {
    public var description: String
}

/// AES-GCM encryption of single fields. A ciphertext reads `keyID;a:base64(nonce|ct|tag)`,
/// sealed with its `SealContext` as associated data. Ciphertexts written before contexts
/// (`keyID:base64`) open only through `openUnbound`, which the upgrade that re-seals them uses.
public struct FieldCipher: Sendable {
    let source: KeyRingSource
    /// Nonces come from a buffered draw: a bulk import seals several fields per patient.
    private let random = RandomBytes()

    public init(ring: KeyRing) {
        self.source = KeyRingSource(ring: ring)
    }

    public init(source: KeyRingSource) {
        self.source = source
    }

    public var activeKeyID: String { source.current.active.id }

    static let boundMarker = ";a"

    public func seal(_ plaintext: String, for context: SealContext) throws -> String {
        try seal(bytes: Data(plaintext.utf8), for: context)
    }

    /// Seals bytes (a photo) the way `seal` seals text.
    public func seal(bytes: Data, for context: SealContext) throws -> String {
        let ring = source.current
        let key = ring.active
        let box = try AES.GCM.seal(bytes, using: ring.encryptionKey(key), nonce: try AES.GCM.Nonce(data: random.take(12)),
                                   authenticating: context.associatedData)
        guard let combined = box.combined else { throw KeyRingError(description: "AES-GCM produced no ciphertext") }
        return "\(key.id)\(Self.boundMarker):\(combined.base64EncodedString())"
    }

    /// Opens a field sealed for this place; one sealed elsewhere fails with a clear error.
    public func open(_ ciphertext: String, for context: SealContext) throws -> String {
        try Self.text(try openBytes(ciphertext, for: context))
    }

    /// Opens bytes sealed by `seal(bytes:for:)` (or the UTF-8 of a sealed text).
    public func openBytes(_ ciphertext: String, for context: SealContext) throws -> Data {
        let (keyID, bound, data) = try parts(of: ciphertext)
        guard bound else {
            throw FieldCipherError(description: "\(context.table).\(context.column) of \(context.row) holds a ciphertext not bound to its row (written before the upgrade, or copied in by hand)")
        }
        let key = try key(keyID)
        do {
            return try AES.GCM.open(AES.GCM.SealedBox(combined: data), using: source.current.encryptionKey(key), authenticating: context.associatedData)
        } catch let error as FieldCipherError {
            throw error
        } catch {
            throw FieldCipherError(description: "\(context.table).\(context.column) of \(context.row) in program \(context.program) does not open: the ciphertext was moved from another row or altered")
        }
    }

    /// Opens a field sealed without a context (before contexts existed), for the upgrade only.
    func openUnbound(_ ciphertext: String) throws -> String {
        let (keyID, bound, data) = try parts(of: ciphertext)
        guard !bound else { throw FieldCipherError(description: "ciphertext is bound to a row; open it with its context") }
        return try Self.text(try AES.GCM.open(AES.GCM.SealedBox(combined: data), using: source.current.encryptionKey(try key(keyID))))
    }

    /// Whether a ciphertext is bound to its row (sealed with a context).
    static func isBound(_ ciphertext: String) -> Bool {
        ciphertext.split(separator: ":", maxSplits: 1).first?.hasSuffix(boundMarker) ?? false
    }

    private func parts(of ciphertext: String) throws -> (keyID: String, bound: Bool, data: Data) {
        let parts = ciphertext.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, let data = Data(base64Encoded: parts[1]) else {
            throw FieldCipherError(description: "ciphertext is malformed")
        }
        let bound = parts[0].hasSuffix(Self.boundMarker)
        return (bound ? String(parts[0].dropLast(Self.boundMarker.count)) : parts[0], bound, data)
    }

    private func key(_ id: String) throws -> KeyRing.Key {
        if let key = source.current.key(id: id) { return key }
        guard let key = source.refreshed().key(id: id) else { throw FieldCipherError(description: "ciphertext names an unknown key \(id)") }
        return key
    }

    private static func text(_ plain: Data) throws -> String {
        guard let text = String(data: plain, encoding: .utf8) else { throw FieldCipherError(description: "decrypted field is not UTF-8") }
        return text
    }

    /// The id of the key a ciphertext was sealed under.
    public static func keyID(of ciphertext: String) -> String? {
        guard let first = ciphertext.split(separator: ":", maxSplits: 1).first else { return nil }
        return first.hasSuffix(boundMarker) ? String(first.dropLast(boundMarker.count)) : String(first)
    }
}

/// Keyed HMAC of a normalised value, so equal values can be found without storing them.
/// The MAC is cut to its first 64 bits (16 hex digits). That is ample for equality lookups:
/// the chance that a lookup in a program of a million patients meets someone else's value
/// is about 5 in 10^14, and that two values of a million-row import collide, 3 in 10^8.
/// It is also less for an attacker with the database to correlate (blind-index designs
/// such as CipherSweet cut even shorter on purpose), and every index entry is small: the
/// three blind-index B-trees take their entries at random pages, so their size is what a
/// bulk import spends most of its writes on.
///
/// Indexes of patients' data are also keyed per program: the ring-wide index of the value is
/// MACed again under a key derived for the program, so the same phone in two programs gives
/// two unrelated indexes and the database alone cannot link them.
public struct BlindIndexer: Sendable {
    public static let length = 16
    /// HMAC state after absorbing the key; each index copies it instead of keying again.
    private let keyed: HMAC<SHA256>
    private let programKeys: ProgramIndexKeys

    public init(ring: KeyRing) {
        self.keyed = HMAC<SHA256>(key: ring.blindIndexKey)
        self.programKeys = ProgramIndexKeys(material: ring.blindIndexKey)
    }

    /// The index of a value within one program.
    public func index(_ normalisedValue: String, purpose: String, program programID: String) -> String {
        programIndex(index(normalisedValue, purpose: purpose), program: programID)
    }

    /// A ring-wide index (the input of `programIndex`), also used to sign links.
    func programIndex(_ ringIndex: String, program programID: String) -> String {
        var mac = programKeys.keyed(programID)
        var text = ringIndex
        text.withUTF8 { mac.update(data: UnsafeRawBufferPointer($0)) }
        return mac.finalize().withUnsafeBytes { Hex.encode(UnsafeRawBufferPointer(rebasing: $0.prefix(Self.length / 2))) }
    }

    public func index(_ normalisedValue: String, purpose: String) -> String {
        var mac = keyed
        var purpose = purpose, value = normalisedValue
        purpose.withUTF8 { mac.update(data: UnsafeRawBufferPointer($0)) }
        mac.update(data: [0x1F] as [UInt8])
        value.withUTF8 { mac.update(data: UnsafeRawBufferPointer($0)) }
        return mac.finalize().withUnsafeBytes { Hex.encode(UnsafeRawBufferPointer(rebasing: $0.prefix(Self.length / 2))) }
    }
}

/// Each program's blind-index key, derived from the ring's once and kept keyed.
final class ProgramIndexKeys: Sendable {
    private let material: SymmetricKey
    private let keyed = Mutex<[String: HMAC<SHA256>]>([:])

    init(material: SymmetricKey) {
        self.material = material
    }

    func keyed(_ programID: String) -> HMAC<SHA256> {
        if let existing = keyed.withLock({ $0[programID] }) { return existing }
        let key = HKDF<SHA256>.deriveKey(inputKeyMaterial: material, info: Data("tend-blind-index-program-v1|\(programID)".utf8), outputByteCount: 32)
        let state = HMAC<SHA256>(key: key)
        keyed.withLock { $0[programID] = state }
        return state
    }
}

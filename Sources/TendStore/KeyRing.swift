import Crypto
import Foundation
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
public final class KeyRingSource: @unchecked Sendable {
    private let lock = NSLock()
    private var ring: KeyRing
    private let path: String?
    private var modified: Date?
    private var lastCheck = ContinuousClock.now

    public init(ring: KeyRing, path: String? = nil) {
        self.ring = ring
        self.path = path
        self.modified = path.flatMap { try? FileManager.default.attributesOfItem(atPath: $0)[.modificationDate] as? Date }
    }

    public var current: KeyRing {
        lock.withLock {
            if path != nil, ContinuousClock.now - lastCheck > .seconds(2) { reloadIfChanged(force: false) }
            return ring
        }
    }

    /// The ring after re-reading the file, for a ciphertext under an unknown key.
    func refreshed() -> KeyRing {
        lock.withLock {
            reloadIfChanged(force: true)
            return ring
        }
    }

    private func reloadIfChanged(force: Bool) {
        lastCheck = ContinuousClock.now
        guard let path else { return }
        let stamp = try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date
        guard force || stamp != modified, let reloaded = try? KeyRing.loadFile(at: path, create: false) else { return }
        modified = stamp
        ring = reloaded
    }
}

/// AES-GCM encryption of single fields. A ciphertext reads `keyID:base64(nonce|ct|tag)`.
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

    public func seal(_ plaintext: String) throws -> String {
        let ring = source.current
        let key = ring.active
        let box = try AES.GCM.seal(Data(plaintext.utf8), using: ring.encryptionKey(key), nonce: try AES.GCM.Nonce(data: random.take(12)))
        guard let combined = box.combined else { throw KeyRingError(description: "AES-GCM produced no ciphertext") }
        return "\(key.id):\(combined.base64EncodedString())"
    }

    public func open(_ ciphertext: String) throws -> String {
        let parts = ciphertext.split(separator: ":", maxSplits: 1).map(String.init)
        var ring = source.current
        if parts.count == 2, ring.key(id: parts[0]) == nil { ring = source.refreshed() }
        guard parts.count == 2, let key = ring.key(id: parts[0]), let data = Data(base64Encoded: parts[1]) else {
            throw KeyRingError(description: "ciphertext names an unknown key or is malformed")
        }
        let plain = try AES.GCM.open(AES.GCM.SealedBox(combined: data), using: ring.encryptionKey(key))
        guard let text = String(data: plain, encoding: .utf8) else { throw KeyRingError(description: "decrypted field is not UTF-8") }
        return text
    }

    public static func keyID(of ciphertext: String) -> String? {
        ciphertext.split(separator: ":", maxSplits: 1).first.map(String.init)
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
public struct BlindIndexer: Sendable {
    public static let length = 16
    /// HMAC state after absorbing the key; each index copies it instead of keying again.
    private let keyed: HMAC<SHA256>

    public init(ring: KeyRing) {
        self.keyed = HMAC<SHA256>(key: ring.blindIndexKey)
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

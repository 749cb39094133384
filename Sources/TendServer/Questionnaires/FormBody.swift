import Foundation
import Hummingbird
import MultipartKit
import NIOCore
import TendCore
import TendEngine
import NIOFoundationEssentialsCompat

/// A posted HTML form's fields and files: `application/x-www-form-urlencoded`, or
/// `multipart/form-data` when it carries photos. Bounded in bytes, fields and parts.
struct FormBody {
    var fields: [(name: String, value: String)] = []
    var photos: [PhotoUpload] = []

    static func read(_ request: Request) async throws -> FormBody {
        let contentType = request.headers[.contentType] ?? ""
        if contentType.lowercased().hasPrefix("multipart/form-data") {
            guard let boundary = parameter("boundary", of: contentType), !boundary.isEmpty, boundary.utf8.count <= 200 else {
                throw TendError(kind: .invalidInput, code: "malformed_form", message: .init(en: "The form has no boundary", zh: "表单缺少分隔符"), field: "body")
            }
            let buffer = try await JSONIO.collect(request, upTo: Bounds.formBytes)
            return try multipart(buffer, boundary: boundary)
        }
        let buffer = try await JSONIO.collect(request, upTo: Bounds.bodyBytes)
        return FormBody(fields: urlEncoded(String(buffer: buffer)))
    }

    static func urlEncoded(_ text: String) -> [(name: String, value: String)] {
        text.split(separator: "&", omittingEmptySubsequences: true).prefix(FormFields.maximumFields + 1).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String {
                part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(part)
            }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    static func multipart(_ buffer: ByteBuffer, boundary: String) throws -> FormBody {
        var body = FormBody()
        var name: String?, filename: String?, data = ByteBuffer(), parts = 0
        var failure: TendError?
        let parser = MultipartParser(boundary: boundary)
        parser.onHeader = { field, value in
            guard field.lowercased() == "content-disposition" else { return }
            name = parameter("name", of: value)
            filename = parameter("filename", of: value)
        }
        parser.onBody = { chunk in
            if data.readableBytes + chunk.readableBytes > Bounds.photoBytes {
                failure = failure ?? TendError.invalid("answers.\((name ?? "").prefix(40))", .init(
                    en: "a photo must be at most \(Bounds.photoBytes >> 20) MiB", zh: "照片不能超过 \(Bounds.photoBytes >> 20) MiB"))
                chunk.moveReaderIndex(forwardBy: chunk.readableBytes)
                return
            }
            data.writeBuffer(&chunk)
        }
        parser.onPartComplete = {
            parts += 1
            defer { name = nil; filename = nil; data.clear() }
            guard failure == nil, let field = name, parts <= FormFields.maximumFields else { return }
            if filename != nil {
                // An empty file input is sent as a part with a filename and no bytes: no photo.
                if data.readableBytes > 0 { body.photos.append(PhotoUpload(item: field, data: Data(buffer: data))) }
            } else {
                body.fields.append((field, String(buffer: data)))
            }
        }
        do { try parser.execute(buffer) } catch {
            throw TendError(kind: .invalidInput, code: "malformed_form", message: .init(en: "The form could not be read", zh: "无法读取表单"), field: "body")
        }
        if let failure { throw failure }
        return body
    }

    /// `name="value"` or `name=value` in a header value such as Content-Type or Content-Disposition.
    static func parameter(_ key: String, of header: String) -> String? {
        for piece in header.split(separator: ";").dropFirst() {
            let parts = piece.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, parts[0].lowercased() == key else { continue }
            var value = parts[1]
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value
        }
        return nil
    }
}

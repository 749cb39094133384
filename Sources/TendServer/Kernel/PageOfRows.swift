/// Which page of a long console list (Today, the inbox) is shown: `?page=N` read forgivingly
/// (anything unreadable is the first page), the rows it skips, and the links around it.
struct PageOfRows {
    let number: Int
    let size: Int

    init(_ value: String?, size: Int, furthestOffset: Int) {
        self.size = size
        let last = furthestOffset / size + 1
        number = min(max(value.flatMap { Int($0) } ?? 1, 1), last)
    }

    var offset: Int { (number - 1) * size }

    /// The page's links and its "showing 51–100 of 240" line, given how many rows there are in all.
    func view(path: String, total: Int, shown: Int) -> PagingView {
        let previousURL = number > 1 ? "\(path)?page=\(number - 1)" : nil
        let nextURL = offset + shown < total && shown == size ? "\(path)?page=\(number + 1)" : nil
        return PagingView(first: shown == 0 ? 0 : offset + 1, last: offset + shown, total: total, previousURL: previousURL, nextURL: nextURL,
                          paged: previousURL != nil || nextURL != nil)
    }
}

/// What a paged list shows above and below its rows.
struct PagingView {
    var first: Int
    var last: Int
    var total: Int
    var previousURL: String?
    var nextURL: String?
    /// Whether there is more than this page (the template shows the line and links only then).
    var paged: Bool
}

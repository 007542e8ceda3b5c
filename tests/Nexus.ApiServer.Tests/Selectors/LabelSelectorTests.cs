using Nexus.ApiServer.Selectors;

namespace Nexus.ApiServer.Tests.Selectors;

public sealed class LabelSelectorTests
{
    private static readonly Dictionary<string, string> Labels = new()
    {
        ["app"] = "web",
        ["nexus.moe/expert"] = "coder",
        ["replicas"] = "3",
        ["empty"] = "",
    };

    [Theory]
    [InlineData("app=web", true)]
    [InlineData("app = web", true)]
    [InlineData("app=batch", false)]
    [InlineData("nexus.moe/expert=coder", true)]
    [InlineData("missing!=x", true)]
    [InlineData("missing notin (x)", true)]
    [InlineData("missing in (x)", false)]
    [InlineData("empty=", true)]
    [InlineData("empty", true)]
    [InlineData("!empty", false)]
    [InlineData("replicas>2", true)]
    [InlineData("replicas<3", false)]
    [InlineData("app in (batch,web),replicas", true)]
    [InlineData("app in (batch,web),!replicas", false)]
    [InlineData("app notin (web)", false)]
    public void Requirements_match_like_apimachinery_labels(string selector, bool matches)
    {
        Assert.Equal(matches, LabelSelector.Parse(selector).Matches(Labels));
    }

    [Theory]
    [InlineData("app in web")]
    [InlineData("app in (web")]
    [InlineData("app=(x)")]
    [InlineData("in")]
    [InlineData("app=web,")]
    [InlineData("app>x")]
    [InlineData("-bad=x")]
    [InlineData("a/b/c=x")]
    [InlineData("app=" + "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv")]
    public void Malformed_selectors_are_rejected(string selector)
    {
        Assert.Throws<FormatException>(() => LabelSelector.Parse(selector));
    }

    [Fact]
    public void An_empty_selector_selects_everything()
    {
        Assert.True(LabelSelector.Parse(" ").IsEverything);
        Assert.True(LabelSelector.Parse(null).Matches(new Dictionary<string, string>()));
    }
}

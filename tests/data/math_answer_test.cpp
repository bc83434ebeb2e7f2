#include "data/math_answer.h"

#include <cmath>

#include <gtest/gtest.h>

namespace wm::math {
namespace {

struct ExtractCase {
  const char* text;
  AnswerStyle style;
  const char* want;  // nullptr: nothing extracted
};

TEST(MathAnswer, Extraction) {
  const ExtractCase cases[] = {
      {"She pays 5 + 3 = 8 dollars.\n#### 8", AnswerStyle::Gsm8k, "8"},
      {"#### 3\nwait, redo\n#### 1,250 \nend", AnswerStyle::Gsm8k, "1,250"},
      {"2 bolts plus 1 bolt equals 3 bolts.\nTherefore, the final answer is 3.", AnswerStyle::Gsm8k, "3"},
      {"The Final Answer is: $42$.", AnswerStyle::Gsm8k, "42"},
      {"The final answer is $\\boxed{7}$.", AnswerStyle::Gsm8k, "7"},
      {"so we get \\boxed{12}", AnswerStyle::Gsm8k, "12"},
      {"no answer here at all", AnswerStyle::Gsm8k, nullptr},
      {"####   \n", AnswerStyle::Gsm8k, nullptr},
      {"First \\boxed{1}, then \\boxed{\\frac{1}{2}}.", AnswerStyle::Math, "\\frac{1}{2}"},
      {"$\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}$", AnswerStyle::Math, "\\left( 3, \\frac{\\pi}{2} \\right)"},
      {"\\boxed{\\{1,2\\}}", AnswerStyle::Math, "\\{1,2\\}"},
      {"answer: \\fbox{x^{2}}", AnswerStyle::Math, "x^{2}"},
      {"thus $\\boxed 5$", AnswerStyle::Math, "5"},
      {"\\boxed{3} and then a truncated \\boxed{\\frac{1}{", AnswerStyle::Math, "3"},
      {"Hence the final answer is 9", AnswerStyle::Math, "9"},
      {"nothing boxed", AnswerStyle::Math, nullptr},
  };
  for (const auto& c : cases) {
    const auto got = extract_answer(c.text, c.style);
    if (c.want == nullptr) {
      EXPECT_FALSE(got.has_value()) << c.text << " -> " << got.value_or("");
    } else {
      ASSERT_TRUE(got.has_value()) << c.text;
      EXPECT_EQ(*got, c.want) << c.text;
    }
  }
}

struct NormCase {
  const char* in;
  const char* want;
};

TEST(MathAnswer, NumberNormalisation) {
  const NormCase cases[] = {
      {"1,234", "1234"},       {"$1,234.00", "1234"}, {"18 dollars", "18"},  {"50%", "50"},
      {"5.", "5"},             {"5.0", "5"},          {"007", "7"},          {"-3", "-3"},
      {" 2.50 ", "2.5"},       {"\\$12", "12"},       {"\\boxed{64}", "64"}, {"3/4 cup", "3/4"},
      {"\\text{14}", "14"},    {".5", "0.5"},         {"1 000", "1000"},     {"about -12.5 degrees", "-12.5"},
  };
  for (const auto& c : cases) EXPECT_EQ(normalize_number_answer(c.in), c.want) << c.in;
}

TEST(MathAnswer, LatexNormalisation) {
  const NormCase cases[] = {
      {"\\dfrac{1}{2}", "\\frac{1}{2}"},
      {"\\tfrac12", "\\frac{1}{2}"},
      {"\\frac1{3}", "\\frac{1}{3}"},
      {"\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})"},
      {"90^\\circ", "90"},
      {"90^{\\circ}", "90"},
      {"10\\text{ inches}", "10"},
      {"\\text{(C)}", "(C)"},
      {"\\text{Monday}", "Monday"},
      {"x = 5", "5"},
      {"y=\\frac{3}{4}", "\\frac{3}{4}"},
      {"2\\sqrt2", "2\\sqrt{2}"},
      {"\\$5.00", "5"},
      {"25\\%", "25"},
      {"0.50", "0.5"},
      {"007", "7"},
      {"1,000", "1000"},
      {"1{,}000", "1000"},
      {"(1,000, 2)", "(1,000,2)"},
      {"3/4", "\\frac{3}{4}"},
      {"-3/4", "-\\frac{3}{4}"},
      {"\\!\\!5.", "5"},
      {"\\mathbf{v}", "v"},
      {"\\displaystyle\\frac{1}{2}", "\\frac{1}{2}"},
      {"a \\quad b", "ab"},
  };
  for (const auto& c : cases) EXPECT_EQ(normalize_latex_answer(c.in), c.want) << c.in;
}

TEST(MathAnswer, Evaluation) {
  EXPECT_DOUBLE_EQ(*evaluate_number("\\frac{1}{2}"), 0.5);
  EXPECT_DOUBLE_EQ(*evaluate_number("-\\frac{3}{4}"), -0.75);
  EXPECT_NEAR(*evaluate_number("2\\sqrt{3}"), 2 * std::sqrt(3.0), 1e-12);
  EXPECT_NEAR(*evaluate_number("\\frac{\\pi}{2}"), std::acos(0.0), 1e-12);
  EXPECT_DOUBLE_EQ(*evaluate_number("2^{10}"), 1024.0);
  EXPECT_DOUBLE_EQ(*evaluate_number("-2^2"), -4.0);
  EXPECT_DOUBLE_EQ(*evaluate_number("1+2*3"), 7.0);
  EXPECT_FALSE(evaluate_number("x+1").has_value());
  EXPECT_FALSE(evaluate_number("(1,2)").has_value());
  EXPECT_FALSE(evaluate_number("\\frac{1}{0}").has_value());
  EXPECT_FALSE(evaluate_number("").has_value());
}

struct EquivCase {
  const char* predicted;
  const char* gold;
  AnswerStyle style;
  bool equal;
};

TEST(MathAnswer, Equivalence) {
  const EquivCase cases[] = {
      {"1,234", "1234", AnswerStyle::Gsm8k, true},
      {"$18.00", "18", AnswerStyle::Gsm8k, true},
      {"18 dollars", "18", AnswerStyle::Gsm8k, true},
      {"0.75", "3/4", AnswerStyle::Gsm8k, true},
      {"\\frac{3}{4}", "0.75", AnswerStyle::Gsm8k, true},
      {"17", "18", AnswerStyle::Gsm8k, false},
      {"", "18", AnswerStyle::Gsm8k, false},
      {"eighteen", "18", AnswerStyle::Gsm8k, false},
      {"0.5", "\\frac12", AnswerStyle::Math, true},
      {"\\dfrac{1}{2}", "\\frac{1}{2}", AnswerStyle::Math, true},
      {"\\frac{2}{4}", "\\frac{1}{2}", AnswerStyle::Math, true},
      {"(3, \\pi/2)", "\\left( 3, \\frac{\\pi}{2} \\right)", AnswerStyle::Math, true},
      {"[1, 2)", "(1, 2)", AnswerStyle::Math, false},
      {"(1, 3)", "(1, 2)", AnswerStyle::Math, false},
      {"x=5", "5", AnswerStyle::Math, true},
      {"10\\text{ cm}", "10", AnswerStyle::Math, true},
      {"90^\\circ", "90", AnswerStyle::Math, true},
      {"2\\sqrt{2}", "\\sqrt{8}", AnswerStyle::Math, true},
      {"\\text{(B)}", "(B)", AnswerStyle::Math, true},
      {"\\text{(B)}", "(C)", AnswerStyle::Math, false},
      {"1,2,3", "1, 2, 3", AnswerStyle::Math, true},
      {"3, -1", "-1,3", AnswerStyle::Math, true},
      {"3, -1", "-1,4", AnswerStyle::Math, false},
      {"\\{2, 1\\}", "\\{1,2\\}", AnswerStyle::Math, true},
      {"\\{1, 2\\}", "(1,2)", AnswerStyle::Math, false},
      {"(2, 1)", "(1, 2)", AnswerStyle::Math, false},
      {"\xE2\x88\x92" "5", "-5", AnswerStyle::Math, true},
      {"\xE2\x88\x92" "5", "-5", AnswerStyle::Gsm8k, true},
      {"x+1", "x-1", AnswerStyle::Math, false},
      {"3.1416", "\\pi", AnswerStyle::Math, false},
  };
  for (const auto& c : cases)
    EXPECT_EQ(answers_equivalent(c.predicted, c.gold, c.style), c.equal) << c.predicted << " vs " << c.gold;
}

TEST(MathAnswer, GradeCompletion) {
  auto g = grade_completion("So 3 bolts.\n#### 3", "3", AnswerStyle::Gsm8k);
  EXPECT_TRUE(g.correct);
  EXPECT_EQ(g.normalized, "3");
  g = grade_completion("I think the final answer is 4.", "Janet ... #### 5", AnswerStyle::Gsm8k);
  EXPECT_FALSE(g.correct);
  EXPECT_EQ(g.gold_normalized, "5");
  ASSERT_TRUE(g.extracted.has_value());
  EXPECT_EQ(*g.extracted, "4");
  g = grade_completion("random text", "5", AnswerStyle::Gsm8k);
  EXPECT_FALSE(g.extracted.has_value());
  EXPECT_FALSE(g.correct);
  g = grade_completion("Thus $r = \\boxed{\\tfrac12}$.", "0.5", AnswerStyle::Math);
  EXPECT_TRUE(g.correct);
  EXPECT_EQ(g.normalized, "\\frac{1}{2}");
}

}  // namespace
}  // namespace wm::math

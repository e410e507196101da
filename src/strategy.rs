//! The strategies: pure functions from completed daily closes and the position to a decision.
//!
//! No I/O here: the cycle fetches the data, this module only decides, so every rule is
//! unit-tested on crafted series.

use ta::Next;
use ta::indicators::SimpleMovingAverage;

use crate::config::Quantity;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrategyKind {
    /// The course bot's: buy on a golden cross when flat, sell all on a death cross when long.
    GoldenCross,
    /// The lesson page's example: buy when flat, otherwise hold.
    BuyAndHold,
}

impl StrategyKind {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "golden_cross" => Ok(Self::GoldenCross),
            "buy_and_hold" => Ok(Self::BuyAndHold),
            _ => Err("golden_cross or buy_and_hold".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::GoldenCross => "golden_cross",
            Self::BuyAndHold => "buy_and_hold",
        }
    }

    /// Completed daily bars the strategy needs: the long SMA today and yesterday.
    pub fn bars_needed(self, windows: SmaWindows) -> usize {
        match self {
            Self::GoldenCross => windows.long + 1,
            Self::BuyAndHold => 0,
        }
    }
}

/// The short and long SMA windows in days, short < long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmaWindows {
    short: usize,
    long: usize,
}

impl SmaWindows {
    pub fn new(short: usize, long: usize) -> Result<Self, &'static str> {
        if short == 0 || short >= long {
            return Err("the short window must be at least 1 and below the long window");
        }
        Ok(Self { short, long })
    }

    pub fn short(self) -> usize {
        self.short
    }

    pub fn long(self) -> usize {
        self.long
    }
}

/// What the cycle should do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Buy(Quantity),
    /// Sell the whole long position.
    Sell(Quantity),
    Hold,
}

/// The decision and the evidence for it, reported to the trader as is.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub action: Action,
    /// A short human-readable why.
    pub reason: String,
    /// The named signal: `golden_cross`, `death_cross`, `no_cross`, `flat`, `holding`.
    pub signal: &'static str,
    pub sma: Option<SmaReading>,
    /// The last completed close, when bars were used.
    pub last_close: Option<f64>,
}

/// Both SMAs on the last completed bar and on the one before.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmaReading {
    pub short: f64,
    pub long: f64,
    pub previous_short: f64,
    pub previous_long: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StrategyError {
    #[error(
        "not enough daily bars for the {long}-day SMA: need {needed} completed bars, got {got}"
    )]
    NotEnoughBars {
        long: usize,
        needed: usize,
        got: usize,
    },
    #[error("the daily bars hold a close that is not a positive number")]
    BadClose,
}

/// Decides on `closes` (completed daily bars, oldest first) and the long position held
/// (`None` or zero when flat).
pub fn decide(
    kind: StrategyKind,
    windows: SmaWindows,
    closes: &[f64],
    held: Option<&Quantity>,
    quantity: &Quantity,
) -> Result<Decision, StrategyError> {
    match kind {
        StrategyKind::BuyAndHold => Ok(buy_and_hold(closes, held, quantity)),
        StrategyKind::GoldenCross => golden_cross(windows, closes, held, quantity),
    }
}

fn buy_and_hold(closes: &[f64], held: Option<&Quantity>, quantity: &Quantity) -> Decision {
    let last_close = closes.last().copied();
    match held {
        None => Decision {
            action: Action::Buy(quantity.clone()),
            reason: "no position held: buy and hold".into(),
            signal: "flat",
            sma: None,
            last_close,
        },
        Some(held) => Decision {
            action: Action::Hold,
            reason: format!("position of {held} already held"),
            signal: "holding",
            sma: None,
            last_close,
        },
    }
}

fn golden_cross(
    windows: SmaWindows,
    closes: &[f64],
    held: Option<&Quantity>,
    quantity: &Quantity,
) -> Result<Decision, StrategyError> {
    let needed = StrategyKind::GoldenCross.bars_needed(windows);
    if closes.len() < needed {
        return Err(StrategyError::NotEnoughBars {
            long: windows.long,
            needed,
            got: closes.len(),
        });
    }
    if closes.iter().any(|c| !c.is_finite() || *c <= 0.0) {
        return Err(StrategyError::BadClose);
    }
    let (previous_short, short) = last_two_sma(windows.short, closes);
    let (previous_long, long) = last_two_sma(windows.long, closes);
    let sma = SmaReading {
        short,
        long,
        previous_short,
        previous_long,
    };
    let crossed_up = previous_short <= previous_long && short > long;
    let crossed_down = previous_short >= previous_long && short < long;
    let (s, l) = (windows.short, windows.long);

    let (action, signal, reason) = match (crossed_up, crossed_down, held) {
        (true, _, None) => (
            Action::Buy(quantity.clone()),
            "golden_cross",
            format!("golden cross: the {s}-day SMA crossed above the {l}-day SMA"),
        ),
        (true, _, Some(held)) => (
            Action::Hold,
            "golden_cross",
            format!("golden cross, but a position of {held} is already held"),
        ),
        (_, true, Some(held)) => (
            Action::Sell(held.clone()),
            "death_cross",
            format!("death cross: the {s}-day SMA crossed below the {l}-day SMA"),
        ),
        (_, true, None) => (
            Action::Hold,
            "death_cross",
            "death cross, but no position is held".to_string(),
        ),
        _ => {
            let side = if short > long { "above" } else { "below" };
            (
                Action::Hold,
                "no_cross",
                format!("no crossover: the {s}-day SMA stays {side} the {l}-day SMA"),
            )
        }
    };
    Ok(Decision {
        action,
        reason,
        signal,
        sma: Some(sma),
        last_close: closes.last().copied(),
    })
}

/// The SMA over the last `period` closes ending at the bar before last, and at the last bar.
fn last_two_sma(period: usize, closes: &[f64]) -> (f64, f64) {
    // `new` only fails for a zero period, which SmaWindows rules out.
    let mut sma = SimpleMovingAverage::new(period).expect("SMA period is at least 1");
    let start = closes.len() - (period + 1);
    let mut previous = 0.0;
    let mut current = 0.0;
    for close in &closes[start..] {
        previous = current;
        current = sma.next(*close);
    }
    (previous, current)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qty(raw: &str) -> Quantity {
        Quantity::parse(raw).unwrap()
    }

    fn windows() -> SmaWindows {
        SmaWindows::new(2, 4).unwrap()
    }

    // With windows 2/4: previous (bars 1..=5 ending at index 4) vs current (ending at index 5).
    const GOLDEN: [f64; 6] = [10.0, 10.0, 10.0, 10.0, 9.0, 13.0];
    const DEATH: [f64; 6] = [10.0, 10.0, 10.0, 10.0, 11.0, 7.0];
    const ABOVE: [f64; 6] = [10.0, 10.0, 11.0, 12.0, 13.0, 14.0];

    #[test]
    fn golden_cross_buys_when_flat() {
        let d = decide(
            StrategyKind::GoldenCross,
            windows(),
            &GOLDEN,
            None,
            &qty("3"),
        )
        .unwrap();
        assert_eq!(d.action, Action::Buy(qty("3")));
        assert_eq!(d.signal, "golden_cross");
        let sma = d.sma.unwrap();
        assert_eq!((sma.previous_short, sma.previous_long), (9.5, 9.75));
        assert_eq!((sma.short, sma.long), (11.0, 10.5));
        assert_eq!(d.last_close, Some(13.0));
    }

    #[test]
    fn golden_cross_holds_when_already_long() {
        let d = decide(
            StrategyKind::GoldenCross,
            windows(),
            &GOLDEN,
            Some(&qty("3")),
            &qty("3"),
        )
        .unwrap();
        assert_eq!(d.action, Action::Hold);
        assert!(d.reason.contains("already held"), "{}", d.reason);
    }

    #[test]
    fn death_cross_sells_the_whole_position() {
        let d = decide(
            StrategyKind::GoldenCross,
            windows(),
            &DEATH,
            Some(&qty("7.5")),
            &qty("1"),
        )
        .unwrap();
        assert_eq!(d.action, Action::Sell(qty("7.5")));
        assert_eq!(d.signal, "death_cross");
    }

    #[test]
    fn death_cross_without_position_holds() {
        let d = decide(
            StrategyKind::GoldenCross,
            windows(),
            &DEATH,
            None,
            &qty("1"),
        )
        .unwrap();
        assert_eq!(d.action, Action::Hold);
        assert_eq!(d.signal, "death_cross");
    }

    #[test]
    fn staying_above_is_not_a_cross() {
        let d = decide(
            StrategyKind::GoldenCross,
            windows(),
            &ABOVE,
            None,
            &qty("1"),
        )
        .unwrap();
        assert_eq!(d.action, Action::Hold);
        assert_eq!(d.signal, "no_cross");
        assert!(d.reason.contains("above"), "{}", d.reason);
    }

    #[test]
    fn only_the_last_bar_counts() {
        // The cross happened a bar earlier: today the short SMA is simply above.
        let mut closes = GOLDEN.to_vec();
        closes.push(14.0);
        let d = decide(
            StrategyKind::GoldenCross,
            windows(),
            &closes,
            None,
            &qty("1"),
        )
        .unwrap();
        assert_eq!(d.action, Action::Hold);
    }

    #[test]
    fn too_few_bars_is_an_error_not_a_trade() {
        let err = decide(
            StrategyKind::GoldenCross,
            windows(),
            &GOLDEN[2..],
            None,
            &qty("1"),
        )
        .unwrap_err();
        assert_eq!(
            err,
            StrategyError::NotEnoughBars {
                long: 4,
                needed: 5,
                got: 4
            }
        );
    }

    #[test]
    fn a_bad_close_is_an_error() {
        let mut closes = GOLDEN.to_vec();
        closes[2] = f64::NAN;
        assert_eq!(
            decide(
                StrategyKind::GoldenCross,
                windows(),
                &closes,
                None,
                &qty("1")
            )
            .unwrap_err(),
            StrategyError::BadClose
        );
    }

    #[test]
    fn buy_and_hold_buys_once() {
        let buy = decide(StrategyKind::BuyAndHold, windows(), &[], None, &qty("10")).unwrap();
        assert_eq!(buy.action, Action::Buy(qty("10")));
        let hold = decide(
            StrategyKind::BuyAndHold,
            windows(),
            &[],
            Some(&qty("10")),
            &qty("10"),
        )
        .unwrap();
        assert_eq!(hold.action, Action::Hold);
    }
}

//! Putting Linear layers in the order their shapes chain (each layer's inputs are the previous
//! one's outputs), for files whose order does not say it: safetensors stores tensors sorted by
//! name, so `input`, `hidden`, `output` come out as `hidden`, `input`, `output`.

/// Why no order was found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum NoOrder {
    /// The shapes chain in no order.
    None,
    /// They chain in more than one, so the file does not say which model it is.
    Many,
    /// The search gave up (a pathological file); the caller says to name the layers in order.
    TooHard,
}

/// Partial orders the search may visit before giving up: a real MLP has a handful of layers
/// and one or two candidates at each step, while a crafted file must not hang the page.
const BUDGET: usize = 100_000;

/// The one order of `shapes` (`(outputs, inputs)` per layer) in which every layer's inputs are
/// the previous layer's outputs, as indices into `shapes`.
pub(super) fn unique_order(shapes: &[(usize, usize)]) -> Result<Vec<usize>, NoOrder> {
    let mut search = Search {
        shapes,
        used: vec![false; shapes.len()],
        path: Vec::with_capacity(shapes.len()),
        found: Vec::new(),
        budget: BUDGET,
    };
    search.extend();
    if search.budget == 0 {
        return Err(NoOrder::TooHard);
    }
    match search.found.len() {
        0 => Err(NoOrder::None),
        1 => Ok(search.found.remove(0)),
        _ => Err(NoOrder::Many),
    }
}

struct Search<'a> {
    shapes: &'a [(usize, usize)],
    used: Vec<bool>,
    path: Vec<usize>,
    /// Complete orders, at most two (two already make the answer "many").
    found: Vec<Vec<usize>>,
    budget: usize,
}

impl Search<'_> {
    /// Depth-first: every unused layer whose inputs match the last layer's outputs.
    fn extend(&mut self) {
        if self.found.len() > 1 || self.budget == 0 {
            return;
        }
        self.budget -= 1;
        if self.path.len() == self.shapes.len() {
            self.found.push(self.path.clone());
            return;
        }
        let wanted = self.path.last().map(|&i| self.shapes[i].0);
        for i in 0..self.shapes.len() {
            if self.used[i] || wanted.is_some_and(|w| self.shapes[i].1 != w) {
                continue;
            }
            self.used[i] = true;
            self.path.push(i);
            self.extend();
            self.path.pop();
            self.used[i] = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_one_chain() {
        // hidden [128, 256], input [256, 784], output [10, 128]
        assert_eq!(
            unique_order(&[(128, 256), (256, 784), (10, 128)]),
            Ok(vec![1, 0, 2])
        );
        assert_eq!(unique_order(&[(10, 784)]), Ok(vec![0]));
    }

    #[test]
    fn refuses_no_chain_and_several() {
        assert_eq!(unique_order(&[(256, 784), (10, 300)]), Err(NoOrder::None));
        // Two square layers can go either way round.
        assert_eq!(
            unique_order(&[(100, 784), (100, 100), (100, 100), (10, 100)]),
            Err(NoOrder::Many)
        );
        // A cycle: 784 → 10 → 784 or 10 → 784 → 10.
        assert_eq!(unique_order(&[(10, 784), (784, 10)]), Err(NoOrder::Many));
    }

    #[test]
    fn gives_up_on_pathological_files() {
        // Sixty identical square layers: a factorial number of chains, found two at once.
        assert_eq!(unique_order(&[(5, 5); 60]), Err(NoOrder::Many));
        // Layers that chain in long prefixes but never all the way: the budget stops it.
        let mut shapes = vec![(5, 5); 30];
        shapes.push((7, 9));
        assert_eq!(unique_order(&shapes), Err(NoOrder::TooHard));
    }
}

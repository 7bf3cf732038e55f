# Reference for gistlm.balancing.entropy_balance: ATE entropy balancing of three groups,
# solved independently with base R's optim (BFGS on the convex dual), on R's `lung` data.
# Groups: ph.ecog 0/1/2; balanced: age (mean and variance), sex (mean), wt.loss (mean and
# variance). WeightIt (method = "ebal", estimand = "ATE", moments = 2) is not installable here;
# this is the problem it solves. Run: Rscript entropy_balance.R (writes the two CSVs beside it).
library(survival)
data <- lung[lung$ph.ecog %in% 0:2 & complete.cases(lung[, c("age", "sex", "wt.loss", "ph.ecog")]),
             c("time", "status", "age", "sex", "wt.loss", "ph.ecog")]
data$sex <- as.numeric(data$sex == 2)  # 0/1: female
data$wt.loss <- as.numeric(data$wt.loss)
columns <- cbind(age = data$age, sex = data$sex, wt.loss = data$wt.loss,
                 age_var = (data$age - mean(data$age))^2,
                 wt_loss_var = (data$wt.loss - mean(data$wt.loss))^2)
targets <- colMeans(columns)
data$weight <- NA_real_
for (g in 0:2) {
  member <- data$ph.ecog == g
  centred <- sweep(columns[member, , drop = FALSE], 2, targets)
  centred <- sweep(centred, 2, apply(columns, 2, sd), "/")
  dual <- function(lambda) log(mean(exp(centred %*% lambda)))
  gradient <- function(lambda) {
    p <- as.vector(exp(centred %*% lambda)); p <- p / sum(p)
    colSums(centred * p)
  }
  fit <- optim(rep(0, ncol(centred)), dual, gradient, method = "BFGS",
               control = list(reltol = 1e-16, maxit = 10000))
  p <- as.vector(exp(centred %*% fit$par))
  data$weight[member] <- p / sum(p) * sum(member)
}
write.csv(data[, c("time", "status", "age", "sex", "wt.loss", "ph.ecog")], "entropy_balance_lung_input.csv",
          row.names = FALSE)
write.csv(data.frame(weight = sprintf("%.15g", data$weight)), "entropy_balance_lung_weights.csv",
          row.names = FALSE, quote = FALSE)
